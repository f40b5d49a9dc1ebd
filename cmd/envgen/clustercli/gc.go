package clustercli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/cmd/envgen/cli"
	"envgen.dev/envgen/imagebuild"
	"envgen.dev/envgen/internal/termsafe"
	"envgen.dev/envgen/runner"
)

type gcOptions struct {
	kube          kubeOptions
	olderThan     time.Duration
	dryRun        bool
	registries    []string
	tagsOlderThan time.Duration
	// stalledAfter and clearFinalizers: namespaces whose deletion hangs.
	stalledAfter    time.Duration
	clearFinalizers bool
	maxAge          time.Duration
}

func stalledAfterOr(d time.Duration) time.Duration {
	if d == 0 {
		return runner.DefaultStalledAfter
	}
	return d
}

func newGCCmd() *cobra.Command {
	var opts gcOptions
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete expired build namespaces left by killed runs",
		Long: `gc deletes the build namespaces that 'envgen run' created and whose expiry
(annotation envgen.dev/expires-at: the run's timeout plus 15 minutes) has passed,
or that are older than --older-than, or than --max-age (26h, longer than any
build runs) whatever their annotations say. It only ever looks at namespaces labelled
app.kubernetes.io/managed-by=envgen. Run it from a CronJob as a safety net for
runs that were killed before they could clean up.

A build namespace still deleting after --stalled-after (default 5m) is
reported by name with what the namespace controller says holds it, and gc
exits 1. --clear-finalizers removes, in those namespaces only, the
finalizers of the objects a build holds (Pods, Services, ConfigMaps,
Deployments, autoscalers, disruption budgets, network policies), so the
deletion can finish; an API the controller cannot list (an aggregated API
that is down) is the cluster's to fix. It needs rights the CI account does
not hold (list and patch of those kinds in every build namespace: the
account's own binding there is deleted before anything that holds the
namespace), so run it as the platform's administrator.

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
		Args: cli.Args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(opts.registries) > 0 {
				return expireTags(cmd, opts)
			}
			clients, err := opts.kube.clients()
			if err != nil {
				return cli.Exit(ExitCluster, err)
			}
			now := time.Now()
			result, err := runner.GC(cmd.Context(), clients.Kube, runner.GCOptions{OlderThan: opts.olderThan, DryRun: opts.dryRun, Now: now,
				StalledAfter: opts.stalledAfter, ClearFinalizers: opts.clearFinalizers, MaxAge: opts.maxAge})
			verb := "deleted"
			if opts.dryRun {
				verb = "would delete"
			}
			out := cmd.OutOrStdout()
			for _, e := range result.Expired {
				fmt.Fprintf(out, "%s %s (build %s, %s)\n", verb, e.Namespace, e.BuildID, e.Reason)
			}
			stuck := 0
			for _, st := range result.Stalled {
				fmt.Fprintf(out, "stalled %s (build %s, deleting for %s): %s\n", st.Namespace, st.BuildID, now.Sub(st.Since).Round(time.Second), termsafe.String(st.Why))
				for _, c := range st.Cleared {
					fmt.Fprintf(out, "  cleared finalizers of %s\n", termsafe.String(c))
				}
				if len(st.Cleared) == 0 {
					stuck++
				}
			}
			if err != nil {
				return cli.Exit(ExitCluster, err)
			}
			if stuck > 0 {
				hint := "envgen gc --clear-finalizers removes the finalizers of a build's objects there; an API the namespace controller cannot list is the cluster's to fix"
				if opts.clearFinalizers {
					hint = "no build object there holds a finalizer: the namespace controller's message above says what does"
				}
				return cli.Exit(cli.ExitInvalid, fmt.Errorf("%d build namespace(s) stuck deleting for more than %s: %s", stuck, stalledAfterOr(opts.stalledAfter), hint))
			}
			return nil
		},
	}
	opts.kube.addFlags(cmd)
	cmd.Flags().DurationVar(&opts.olderThan, "older-than", 0, "also delete envgen namespaces created longer ago than this whose build Pod has ended")
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "list what would be deleted, delete nothing")
	cmd.Flags().DurationVar(&opts.maxAge, "max-age", runner.DefaultMaxAge, "delete any envgen namespace older than this, whatever its expiry annotation says")
	cmd.Flags().DurationVar(&opts.stalledAfter, "stalled-after", runner.DefaultStalledAfter, "report an envgen namespace still deleting after this long (exit 1)")
	cmd.Flags().BoolVar(&opts.clearFinalizers, "clear-finalizers", false, "in stalled envgen namespaces, remove the finalizers of the build's objects (never elsewhere)")
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
			return cli.Exit(ExitCluster, err)
		}
	}
	return nil
}

// gcInterrupted is a signal's exit.
func gcInterrupted(ctx context.Context, err error) error {
	var sig *cli.SignalError
	if errors.As(context.Cause(ctx), &sig) {
		return cli.Exit(128+int(sig.Signal), sig)
	}
	return err
}
