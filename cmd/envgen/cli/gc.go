package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/runner"
)

type gcOptions struct {
	kube      kubeOptions
	olderThan time.Duration
	dryRun    bool
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
runs that were killed before they could clean up.`,
		Example: `  envgen gc --dry-run
  envgen gc --older-than 6h`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
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
	return cmd
}
