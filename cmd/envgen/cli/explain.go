package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/explain"
	"envgen.dev/envgen/pipeline"
)

type explainOptions struct {
	env    string
	output string
}

func newExplainCmd() *cobra.Command {
	var opts explainOptions
	cmd := &cobra.Command{
		Use:   "explain --env <name> <kind/name> <field.path> [dir]",
		Short: "Show where a field of a generated object comes from in envgen.cue",
		Long: `Explain prints the value of one field of one generated object and where it
came from: the file:line:col of each value envgen.cue gives it, layer by layer
(schema default, top level, the environments it extends, the environment), and
which one is in effect. Fields envgen sets on its own (the secure defaults, the
labels) are named as such.

Paths use dots, [N] for list items, and [name=x] for items with a name:
  spec.template.spec.containers[name=citoid].resources.limits.memory`,
		Example: `  envgen explain --env staging deployment/citoid spec.replicas
  envgen explain --env production horizontalpodautoscaler/citoid spec.minReplicas
  envgen explain --env ci pod/citoid-ci-build 'spec.containers[0].env[name=ZOTERO_HOST].value'`,
		Args:              Args(cobra.RangeArgs(2, 3)),
		ValidArgsFunction: completeObjects,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.env == "" {
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--env is required")}
			}
			result, err := pipeline.Load(InputPath(args[2:]), compiler.Options{Environments: []string{opts.env}})
			if err != nil {
				return err
			}
			built, err := result.Render(opts.env)
			if err != nil {
				return err
			}
			e, err := explain.Explain(result.Project, opts.env, built.Objects, args[0], args[1])
			if err != nil {
				return &exitError{code: ExitInvalid, err: err}
			}
			if opts.output == "json" {
				data, err := json.MarshalIndent(e, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n", data)
				return nil
			}
			fmt.Fprint(cmd.OutOrStdout(), e.Text())
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.env, "env", "e", "", "the environment (required)")
	cmd.Flags().StringVarP(&opts.output, "output", "o", "text", "output format: text or json")
	return cmd
}
