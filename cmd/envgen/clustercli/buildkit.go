package clustercli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"envgen.dev/envgen/cmd/envgen/cli"
	"envgen.dev/envgen/imagebuild"
	"envgen.dev/envgen/render"
)

// DefaultBuildkitImage is BuildKit's own image, of the version envgen's
// client is built with and tested against.
const DefaultBuildkitImage = "docker.io/moby/buildkit:v0.34.2"

func newBuildkitCmd() *cobra.Command {
	o := imagebuild.DaemonOptions{}
	cmd := &cobra.Command{
		Use:   "buildkit",
		Short: "Print the BuildKit daemon (buildkitd) that envgen builds images on, for the platform team",
		Long: `buildkit prints the manifests of a BuildKit daemon for envgen run and envgen
image, to apply once per cluster:

  - a Namespace of its own, labelled Pod Security "privileged": rootful
    buildkitd runs each RUN step in containers of its own, which takes a
    privileged container (rootless buildkitd needs user namespaces and an
    unconfined seccomp profile, which this does not assume). Nothing else
    belongs in that namespace, and no build Pod runs there: builds run in
    their own namespaces, under the restricted profile;
  - a ServiceAccount with no token (buildkitd never calls the API server);
  - buildkitd.toml: the OCI worker, RUN steps in network namespaces of
    their own (--run-network bridge: in the daemon's, a step could reach
    its unauthenticated port), with a GC policy that bounds its disk
    (--max-used-space; what no build used for --keep-duration goes first;
    a sweep runs a minute after a build), no containerd worker (the node's
    containerd stays out of reach);
  - a StatefulSet (stable Pod names <name>-0, <name>-1, …) with a volume per
    Pod for the cache (--storage; "" for an emptyDir that lives as long as
    the Pod: the registry cache outlives it);
  - a NetworkPolicy that lets nothing in. buildkitd listens on its Pod's
    loopback only: envgen reaches it by a port-forward through the API
    server (--buildkit kube-pod://<name>-0?namespace=<namespace>), which RBAC
    guards ('envgen rbac --buildkit …' grants exactly that) and the Pod
    network does not cross. Egress stays open: RUN steps fetch packages and
    the daemon pushes to the registry.

Run two: one for pull requests, one (--trusted) for builds of reviewed code
after merge. A daemon's own cache is shared by every build it runs, so a
pull request's RUN step on a shared daemon could leave a result that a
trusted build would then reuse.

Images pulled onto nodes to run builds are the kubelet's to collect (its
image GC, imageGCHighThresholdPercent), not the daemon's; build tags in
the registry expire with 'envgen gc --registry'.`,
		Example: `  envgen buildkit | kubectl apply -f -
  envgen buildkit --trusted | kubectl apply -f -
  envgen rbac --service-account-namespace jenkins --service-account envgen \
    --buildkit "kube-pod://buildkitd-0?namespace=buildkit" | kubectl apply -f -`,
		Args: cli.Args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			trusted, _ := cmd.Flags().GetBool("trusted")
			o.Trusted = trusted
			if !cmd.Flags().Changed("name") && trusted {
				o.Name = "buildkitd-trusted"
			}
			if errs := validation.IsDNS1123Label(o.Namespace); len(errs) > 0 {
				return cli.Usage(cmd.CommandPath(), fmt.Errorf("--namespace %q is not a namespace name: %s", o.Namespace, strings.Join(errs, "; ")))
			}
			if errs := validation.IsDNS1123Label(o.Name); len(errs) > 0 || len(o.Name) > 50 {
				return cli.Usage(cmd.CommandPath(), fmt.Errorf("--name %q is not a StatefulSet name of at most 50 characters", o.Name))
			}
			if o.Port < 1 || o.Port > 65535 {
				return cli.Usage(cmd.CommandPath(), fmt.Errorf("--port %d is not a port", o.Port))
			}
			objs, err := imagebuild.Daemon(o)
			if err != nil {
				return cli.Usage(cmd.CommandPath(), err)
			}
			return render.YAML(cmd.OutOrStdout(), objs)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Namespace, "namespace", "buildkit", "the daemon's namespace (created, labelled Pod Security privileged)")
	f.StringVar(&o.Name, "name", "buildkitd", "the StatefulSet's name (default buildkitd-trusted with --trusted)")
	f.Bool("trusted", false, "the daemon for builds of reviewed code (envgen image --trusted), apart from pull requests'")
	f.StringVar(&o.Image, "image", DefaultBuildkitImage, "BuildKit's image; pin it by digest (REPO@sha256:…) in your registry")
	f.IntVar(&o.Port, "port", imagebuild.DefaultPort, "the port buildkitd listens on, on its Pod's loopback (kube-pod://…&port=N when not 1234)")
	f.Int32Var(&o.Replicas, "replicas", 1, "daemons (Pods); each has its own cache, the registry cache is shared")
	f.StringVar(&o.Storage, "storage", "50Gi", "each Pod's volume for the cache; \"\" for an emptyDir")
	f.StringVar(&o.MaxUsedSpace, "max-used-space", "40Gi", "the cache's bound: past it, GC removes the least recently used")
	f.StringVar(&o.KeepDuration, "keep-duration", "168h", "GC removes what no build used for this long")
	f.StringArrayVar(&o.InsecureRegistries, "insecure-registry", nil, "a registry reached over plain HTTP, HOST:PORT (a test's; repeat)")
	f.StringVar(&o.RunNetwork, "run-network", "bridge", "RUN steps' network: bridge (their own; needs BuildKit's CNI bridge, as its image has) or host (the daemon Pod's: a step could reach the daemon's unauthenticated port)")
	f.StringVar(&o.CPU, "cpu", "2", "CPU the daemon requests")
	f.StringVar(&o.Memory, "memory", "4Gi", "memory the daemon requests and may use")
	return cmd
}
