package cli

import (
	"github.com/spf13/cobra"

	"envgen.dev/envgen/schema"
)

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the CUE schema of envgen.cue",
		Long: `Schema prints the CUE schema that envgen checks envgen.cue against: every
field a service may set, with its constraints and documentation.`,
		Args: Args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := cmd.OutOrStdout().Write(schema.Source())
			return err
		},
	}
}
