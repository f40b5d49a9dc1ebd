package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

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
		Short: "Print the least privilege envgen run and gc need: RBAC and an admission guard",
		Long: `rbac prints the least privilege 'envgen run' and 'envgen gc' need, for the
ServiceAccount CI runs envgen as:

  - a ClusterRole and its ClusterRoleBinding: the verbs and resources envgen
    uses, nothing else (Secrets: create only, never read). It is cluster-wide
    because every build gets a namespace of its own, which does not exist
    before the build;
  - a ValidatingAdmissionPolicy and its binding (Kubernetes >= 1.30) that
    confine that account to envgen's own namespaces, which RBAC cannot: it may
    create and delete only namespaces labelled app.kubernetes.io/managed-by=
    envgen, and change objects only inside them. kube-system and every other
    namespace stay out of its reach.

Apply all four; 'kubectl auth can-i' shows RBAC only, so it still answers yes
for "delete namespaces": the guard refuses the request itself.`,
		Example: `  envgen rbac --namespace jenkins --service-account envgen | kubectl apply -f -`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if errs := validation.IsDNS1123Label(opts.namespace); len(errs) > 0 {
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--namespace %q is not a namespace name: %s", opts.namespace, strings.Join(errs, "; "))}
			}
			if errs := validation.IsDNS1123Subdomain(opts.serviceAccount); len(errs) > 0 {
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--service-account %q is not a ServiceAccount name: %s", opts.serviceAccount, strings.Join(errs, "; "))}
			}
			return render.YAML(cmd.OutOrStdout(), []any{
				runner.ClusterRole(),
				runner.ClusterRoleBinding(opts.namespace, opts.serviceAccount),
				runner.AdmissionPolicy(opts.namespace, opts.serviceAccount),
				runner.AdmissionPolicyBinding(),
			})
		},
	}
	cmd.Flags().StringVar(&opts.namespace, "namespace", "default", "namespace of the ServiceAccount")
	cmd.Flags().StringVar(&opts.serviceAccount, "service-account", "envgen", "the ServiceAccount CI runs envgen as")
	return cmd
}
