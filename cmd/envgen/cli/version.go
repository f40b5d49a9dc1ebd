package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/internal/version"
)

func newVersionCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print envgen's version and the commit it was built from",
		Args:  Args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version.Get()
			switch output {
			case "json":
				data, err := json.MarshalIndent(v, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n", data)
			case "text":
				fmt.Fprintln(cmd.OutOrStdout(), versionLine(v))
			default:
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--output must be text or json, not %q", output)}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// versionLine is envgen's version in one line, for `envgen version` and
// `envgen --version`.
func versionLine(v version.Info) string {
	return fmt.Sprintf("envgen %s (commit %s, %s, %s)", v.Release, v.Commit, v.Module, v.GoVersion)
}
