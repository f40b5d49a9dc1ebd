package clustercli

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"envgen.dev/envgen/cmd/envgen/cli"
	"envgen.dev/envgen/imagebuild"
	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/render"
	"envgen.dev/envgen/runner"
)

type rbacOptions struct {
	namespace      string
	serviceAccount string
	buildNamespace string
	buildkit       []string
	priority       []string
	ceiling        quotaFlag
}

func newRBACCmd() *cobra.Command {
	opts := rbacOptions{ceiling: quotaFlag{runner.DefaultQuota()}}
	cmd := &cobra.Command{
		Use:   "rbac",
		Short: "Print the least privilege envgen run and gc need: RBAC and an admission guard",
		Long: `rbac prints the least privilege 'envgen run' and 'envgen gc' need, for the
ServiceAccount CI runs envgen as:

  - a ClusterRole and its ClusterRoleBinding: make and delete build
    namespaces (every build gets one of its own, which does not exist before
    the build, so no Role could grant it) and bind, in each, the second
    ClusterRole to the account itself. Nothing else cluster-wide: no Pod,
    log, event or ConfigMap of anyone else's is readable;
  - that second ClusterRole, envgen-runner-build, never bound cluster-wide:
    what a run does in its own namespace and nothing else (Secrets: create
    only, never read; exec: only tar in the artifacts container);
  - a ValidatingAdmissionPolicy and its binding (Kubernetes >= 1.30) that
    confine that account to envgen's own namespaces, which RBAC cannot: it may
    create and delete only namespaces labelled app.kubernetes.io/managed-by=
    envgen, and change objects only inside them. kube-system and every other
    namespace stay out of its reach.

  - a second ValidatingAdmissionPolicy and binding, the box: what that
    account may put into a build namespace whatever a pull request's
    envgen.cue says (objects, patches). A namespace it creates enforces Pod
    Security restricted; Services are ClusterIP without externalIPs; no
    object gets finalizers; a Pod (or a Deployment's template) has no
    nodeName and no priority class but those --priority-class allows; a
    Pod's activeDeadlineSeconds is at most a day; a namespace's
    ResourceQuota (envgen run --quota) bounds CPU, memory and Pods within
    --quota-ceiling, and a Deployment has no more replicas than its Pods;
    the one RoleBinding gives envgen-runner-build to the account itself;
    exec runs only tar in a build Pod's artifacts container;
  - two more policies and bindings that refuse the account's Pods in a
    namespace without envgen's ResourceQuota or NetworkPolicy (each takes
    the namespace's envgen-build object as its parameter), so the fence
    cannot be skipped either.

Apply all eleven; 'kubectl auth can-i' shows RBAC only, so it still answers yes
for "delete namespaces": the guard refuses the request itself.

With --buildkit kube-pod://POD?namespace=NS (repeat per Pod) it adds a Role
in NS that lets the account port-forward to those Pods of the BuildKit
daemon ('envgen buildkit' prints one) and nothing else there: not exec, not
another Pod, not the trusted builds' daemon.

With --build-namespace NS it prints the namespaced mode's instead (envgen run
--namespace NS, in a namespace someone else created): a Role and a RoleBinding
in NS, nothing cluster-wide and no admission guard. The account cannot create
or delete namespaces, read Secrets, or touch anything outside NS.`,
		Example: `  envgen rbac --service-account-namespace jenkins --service-account envgen | kubectl apply -f -

  # builds in the namespace ci-builds only, which the platform team made:
  envgen rbac --service-account-namespace jenkins --service-account envgen --build-namespace ci-builds | kubectl apply -f -`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("namespace") && cmd.Flags().Changed("service-account-namespace") {
				return cli.Usage(cmd.CommandPath(), errors.New("give --service-account-namespace only: --namespace is its old spelling, and the two would disagree"))
			}
			if errs := validation.IsDNS1123Label(opts.namespace); len(errs) > 0 {
				return cli.Usage(cmd.CommandPath(), fmt.Errorf("--service-account-namespace %q is not a namespace name: %s", opts.namespace, strings.Join(errs, "; ")))
			}
			if errs := validation.IsDNS1123Subdomain(opts.serviceAccount); len(errs) > 0 {
				return cli.Usage(cmd.CommandPath(), fmt.Errorf("--service-account %q is not a ServiceAccount name: %s", opts.serviceAccount, strings.Join(errs, "; ")))
			}
			daemons, err := buildkitRBAC(opts)
			if err != nil {
				return cli.Usage(cmd.CommandPath(), err)
			}
			if opts.buildNamespace != "" {
				if errs := validation.IsDNS1123Label(opts.buildNamespace); len(errs) > 0 {
					return cli.Usage(cmd.CommandPath(), fmt.Errorf("--build-namespace %q is not a namespace name: %s", opts.buildNamespace, strings.Join(errs, "; ")))
				}
				return render.YAML(cmd.OutOrStdout(), append([]any{
					runner.NamespacedRole(opts.buildNamespace),
					runner.NamespacedRoleBinding(opts.buildNamespace, opts.namespace, opts.serviceAccount),
				}, daemons...))
			}
			return render.YAML(cmd.OutOrStdout(), append([]any{
				runner.ClusterRole(),
				runner.BuildRole(),
				runner.ClusterRoleBinding(opts.namespace, opts.serviceAccount),
				runner.AdmissionPolicy(opts.namespace, opts.serviceAccount),
				runner.AdmissionPolicyBinding(),
				runner.BoxPolicy(opts.namespace, opts.serviceAccount, runner.BoxOptions{PriorityClasses: opts.priority, Ceiling: opts.ceiling.Quota}),
				runner.BoxPolicyBinding(),
			}, append(runner.FencedPolicies(opts.namespace, opts.serviceAccount), daemons...)...))
		},
	}
	cmd.Flags().StringVar(&opts.namespace, "service-account-namespace", "default", "the namespace of the ServiceAccount")
	// --namespace meant the account's namespace here and the build's in
	// run: one meaning now (run's), the old spelling still read.
	cmd.Flags().StringVar(&opts.namespace, "namespace", "default", "the namespace of the ServiceAccount")
	cmd.Flags().MarkDeprecated("namespace", "use --service-account-namespace (--namespace is the build's namespace, as in envgen run)")
	// pflag says so on stdout, into the YAML piped to kubectl apply.
	cmd.Flags().SetOutput(os.Stderr)
	cmd.Flags().StringVar(&opts.serviceAccount, "service-account", "envgen", "the ServiceAccount CI runs envgen as")
	cmd.Flags().StringVar(&opts.buildNamespace, "build-namespace", "", "print a Role for builds in this existing namespace only (envgen run --namespace)")
	cmd.Flags().StringArrayVar(&opts.priority, "priority-class", nil, "a priority class a build's Pods may name (repeat; default: none)")
	cmd.Flags().Var(&opts.ceiling, "quota-ceiling", "the largest quota a build namespace may have (envgen run --quota): cpu=N,memory=N,pods=N")
	cmd.Flags().StringArrayVar(&opts.buildkit, "buildkit", nil, "also let the account reach this BuildKit daemon, kube-pod://POD?namespace=NS, by port-forward (repeat per Pod)")
	return cmd
}

// buildkitRBAC is a Role and its binding per namespace of the daemons
// --buildkit names: port-forward to those Pods, nothing else.
func buildkitRBAC(opts rbacOptions) ([]any, error) {
	pods := map[string][]string{}
	for _, address := range opts.buildkit {
		ns, pod, ok, err := imagebuild.PodAddress(address)
		if err != nil {
			return nil, fmt.Errorf("--buildkit: %w", err)
		}
		if !ok {
			return nil, fmt.Errorf("--buildkit %q: RBAC guards a daemon in a Pod only (kube-pod://POD?namespace=NS); a tcp:// or unix:// daemon is guarded by who can reach its address", address)
		}
		if !slices.Contains(pods[ns], pod) {
			pods[ns] = append(pods[ns], pod)
		}
	}
	// One Role per account: the pull requests' and the trusted builds'
	// accounts reach different daemons in one namespace.
	name := "envgen-buildkit-" + opts.namespace + "-" + opts.serviceAccount
	if len(name) > 253 {
		name = name[:253]
	}
	var out []any
	for _, ns := range sorted.Keys(pods) {
		out = append(out, imagebuild.PortForwardRole(ns, name, pods[ns]), imagebuild.PortForwardRoleBinding(ns, name, opts.namespace, opts.serviceAccount))
	}
	return out, nil
}
