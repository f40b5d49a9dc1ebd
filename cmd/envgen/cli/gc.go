package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/imagebuild"
	"envgen.dev/envgen/runner"
)

type gcOptions struct {
	kube          kubeOptions
	olderThan     time.Duration
	dryRun        bool
	registries    []string
	tagsOlderThan time.Duration
}

func newGCCmd() *cobra.Command {
	var opts gcOptions
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete expired build namespaces left by killed runs",
		Long: `gc deletes the build namespaces that 'envgen run' created and whose expiry
(annotation envgen.dev/expires-at: the run's timeout plus 15 minutes) has passed,
or that are older than --older-than. It only ever looks at namespaces labelled
app.kubernetes.io/managed-by=envgen. Run it from a CronJob as a safety net for
runs that were killed before they could clean up.

With --registry REPOSITORY (repeat per repository) it expires build tags
instead: the tags envgen-<time>-<build id> that envgen run and envgen image
push, older than --tags-older-than by the time in the tag, through the
registry's API (credentials from the Docker config). Nothing else is
touched: not the registry cache (buildcache, buildcache-untrusted), not a
release's or production's tag. A registry that deletes tags (OCI
distribution 1.1) loses the tag alone; one that deletes whole images only
loses an image when nothing but expired build tags name it, so a promoted
image stays. The layers are the registry's own garbage collection's.`,
		Example: `  envgen gc --dry-run
  envgen gc --older-than 6h
  envgen gc --registry ci-registry.example.org/citoid --tags-older-than 72h`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(opts.registries) > 0 {
				return expireTags(cmd, opts)
			}
			clients, err := opts.kube.clients()
			if err != nil {
				return &exitError{code: ExitCluster, err: err}
			}
			expired, err := runner.GC(cmd.Context(), clients.Kube, runner.GCOptions{OlderThan: opts.olderThan, DryRun: opts.dryRun, Now: time.Now()})
			verb := "deleted"
			if opts.dryRun {
				verb = "would delete"
			}
			for _, e := range expired {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s (build %s, %s)\n", verb, e.Namespace, e.BuildID, e.Reason)
			}
			if err != nil {
				return &exitError{code: ExitCluster, err: err}
			}
			return nil
		},
	}
	opts.kube.addFlags(cmd)
	cmd.Flags().DurationVar(&opts.olderThan, "older-than", 0, "also delete envgen namespaces created longer ago than this whose build Pod has ended")
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "list what would be deleted, delete nothing")
	cmd.Flags().StringArrayVar(&opts.registries, "registry", nil, "expire the build tags of this image repository instead (repeat)")
	cmd.Flags().DurationVar(&opts.tagsOlderThan, "tags-older-than", 7*24*time.Hour, "with --registry: remove build tags older than this")
	return cmd
}

// expireTags is gc --registry: each repository's old build tags go.
func expireTags(cmd *cobra.Command, opts gcOptions) error {
	verb := "deleted"
	if opts.dryRun {
		verb = "would delete"
	}
	out := cmd.OutOrStdout()
	for _, repo := range opts.registries {
		verdicts, err := imagebuild.ExpireTags(cmd.Context(), imagebuild.ExpireOptions{Repository: repo, OlderThan: opts.tagsOlderThan, Now: time.Now(), DryRun: opts.dryRun})
		kept := 0
		for _, v := range verdicts {
			switch {
			case v.Deleted:
				fmt.Fprintf(out, "%s %s:%s (%s)\n", verb, repo, v.Tag, v.Reason)
			case strings.HasPrefix(v.Reason, "the registry"):
				fmt.Fprintf(out, "kept %s:%s (%s)\n", repo, v.Tag, v.Reason)
				kept++
			default:
				kept++
			}
		}
		fmt.Fprintf(out, "%s: %d build tags, %d kept\n", repo, len(verdicts), kept)
		if err != nil {
			if cmd.Context().Err() != nil {
				return gcInterrupted(cmd.Context(), err)
			}
			return &exitError{code: ExitCluster, err: err}
		}
	}
	return nil
}

// gcInterrupted is a signal's exit.
func gcInterrupted(ctx context.Context, err error) error {
	var sig *signalError
	if errors.As(context.Cause(ctx), &sig) {
		return &exitError{code: 128 + int(sig.sig), err: sig}
	}
	return err
}
