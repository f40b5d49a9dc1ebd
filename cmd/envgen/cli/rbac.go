package cli

import (
	"github.com/spf13/cobra"

	"envgen.dev/envgen/render"
	"envgen.dev/envgen/runner"
)

type rbacOptions struct {
	namespace      string
	serviceAccount string
}

func newRBACCmd() *cobra.Command {
	var opts rbacOptions
	cmd := &cobra.Command{
		Use:   "rbac",
		Short: "Print the ClusterRole (and binding) that envgen run and gc need",
		Long: `rbac prints the least privilege 'envgen run' and 'envgen gc' need, as a
ClusterRole and a ClusterRoleBinding to the ServiceAccount CI runs as. It is
cluster-wide because every build gets a namespace of its own.`,
		Example: `  envgen rbac --namespace jenkins --service-account envgen | kubectl apply -f -`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			return render.YAML(cmd.OutOrStdout(), []any{runner.ClusterRole(), runner.ClusterRoleBinding(opts.namespace, opts.serviceAccount)})
		},
	}
	cmd.Flags().StringVar(&opts.namespace, "namespace", "default", "namespace of the ServiceAccount")
	cmd.Flags().StringVar(&opts.serviceAccount, "service-account", "envgen", "the ServiceAccount CI runs envgen as")
	return cmd
}
