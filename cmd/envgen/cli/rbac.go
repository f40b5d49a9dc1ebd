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
	buildNamespace string
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
for "delete namespaces": the guard refuses the request itself.

With --build-namespace NS it prints the namespaced mode's instead (envgen run
--namespace NS, in a namespace someone else created): a Role and a RoleBinding
in NS, nothing cluster-wide and no admission guard. The account cannot create
or delete namespaces, read Secrets, or touch anything outside NS.`,
		Example: `  envgen rbac --namespace jenkins --service-account envgen | kubectl apply -f -

  # builds in the namespace ci-builds only, which the platform team made:
  envgen rbac --namespace jenkins --service-account envgen --build-namespace ci-builds | kubectl apply -f -`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if errs := validation.IsDNS1123Label(opts.namespace); len(errs) > 0 {
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--namespace %q is not a namespace name: %s", opts.namespace, strings.Join(errs, "; "))}
			}
			if errs := validation.IsDNS1123Subdomain(opts.serviceAccount); len(errs) > 0 {
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--service-account %q is not a ServiceAccount name: %s", opts.serviceAccount, strings.Join(errs, "; "))}
			}
			if opts.buildNamespace != "" {
				if errs := validation.IsDNS1123Label(opts.buildNamespace); len(errs) > 0 {
					return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--build-namespace %q is not a namespace name: %s", opts.buildNamespace, strings.Join(errs, "; "))}
				}
				return render.YAML(cmd.OutOrStdout(), []any{
					runner.NamespacedRole(opts.buildNamespace),
					runner.NamespacedRoleBinding(opts.buildNamespace, opts.namespace, opts.serviceAccount),
				})
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
	cmd.Flags().StringVar(&opts.buildNamespace, "build-namespace", "", "print a Role for builds in this existing namespace only (envgen run --namespace)")
	return cmd
}
