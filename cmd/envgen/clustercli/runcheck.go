package clustercli

import (
	"errors"
	"fmt"
	"strings"

	"envgen.dev/envgen/cmd/envgen/cli"
	"envgen.dev/envgen/model"
	"envgen.dev/envgen/pipeline"
	"envgen.dev/envgen/runner"
)

// checkRunnable refuses, before anything is created, a ci overlay the run
// could not carry through: an object of a kind a build namespace does not
// take, a Secret or ConfigMap the namespace will not have, more than its
// quota, or — in a shared namespace — anything that is not the build's.
func checkRunnable(result *pipeline.Result, service *model.Service, objects []map[string]any, opts runOptions) error {
	if err := runner.CheckKinds(objects); err != nil {
		return cli.Exit(cli.ExitInvalid, err)
	}
	if err := runner.CheckReferences(objects, service.CI.Secrets); err != nil {
		var ref *runner.ReferenceError
		if errors.As(err, &ref) {
			field := referenceField(service, ref)
			if strings.HasPrefix(field, "ci.") {
				ref.Drop = field
			}
			return cli.Exit(cli.ExitInvalid, fmt.Errorf("%s: %s: %w", result.Project.Sources().Where(opts.env, field), field, err))
		}
		return cli.Exit(cli.ExitInvalid, err)
	}
	if opts.namespace == "" {
		// The build's own namespace gets the quota: refused here when it
		// cannot fit, rather than by a test service that never starts.
		if err := runner.CheckQuota(objects, opts.fence.quota.Quota); err != nil {
			return cli.Exit(cli.ExitInvalid, err)
		}
	} else if err := runner.CheckIsolation(service.Name, objects, service.CI.Secrets, opts.serviceAccounts); err != nil {
		// A shared namespace holds other builds' Secrets and other
		// services' objects: what a pull request's patches could reach.
		return cli.Exit(cli.ExitInvalid, err)
	}
	return nil
}

// referenceField is the envgen.cue field that sets the variable a
// ReferenceError names: a test service's, the build's own (ci.env), or
// the service's, which the build inherits.
func referenceField(service *model.Service, ref *runner.ReferenceError) string {
	if ref.MountPath != "" {
		return fmt.Sprintf("mounts.%q", ref.MountPath)
	}
	if ref.Container != "build" {
		return fmt.Sprintf("ci.services.%q.env.%s", ref.Container, ref.Variable)
	}
	if stage, ok := service.CI.Stages[ref.Stage]; ok {
		if _, ok := stage.Env[ref.Variable]; ok {
			return fmt.Sprintf("ci.stages.%s.env.%s", ref.Stage, ref.Variable)
		}
	}
	if _, ok := service.CI.Env[ref.Variable]; ok {
		return "ci.env." + ref.Variable
	}
	return "env." + ref.Variable
}
