package clustercli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"envgen.dev/envgen/cmd/envgen/cli"
	"envgen.dev/envgen/runner"
)

// kubeOptions select a cluster the way kubectl does.
type kubeOptions struct {
	kubeconfig     string
	context        string
	as             string
	asGroups       []string
	requestTimeout time.Duration
}

func (o *kubeOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	cmd.Flags().StringVar(&o.context, "context", "", "the kubeconfig context to use")
	cmd.Flags().StringVar(&o.as, "as", "", "act as this user or service account (system:serviceaccount:NS:NAME), as kubectl --as does: to try the CI account's rights")
	cmd.Flags().StringArrayVar(&o.asGroups, "as-group", nil, "with --as: a group to act as (repeat)")
	cmd.Flags().DurationVar(&o.requestTimeout, "request-timeout", runner.DefaultAnswerTimeout, "give up on a request the API server has not started to answer after this long (watches and logs may then stream for as long as they need)")
}

// errNoCluster is returned when no kubeconfig says where the cluster is.
var errNoCluster = errors.New("no cluster configured: set KUBECONFIG or pass --kubeconfig (the kubeconfig of the CI account that envgen rbac describes, which the platform team gives CI)")

// config is the cluster's connection, as the kubeconfig says.
func (o *kubeOptions) config() (*rest.Config, error) {
	if len(o.asGroups) > 0 && o.as == "" {
		return nil, cli.Usage("envgen", errors.New("--as-group needs --as: the user or service account to act as"))
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.context}
	overrides.AuthInfo.Impersonate, overrides.AuthInfo.ImpersonateGroups = o.as, o.asGroups
	config, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			if env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); o.kubeconfig == "" && env != "" {
				return nil, &runner.ClusterError{Op: "connecting", Err: fmt.Errorf("no cluster configured: KUBECONFIG=%s names no kubeconfig with a cluster (a missing file, or an empty one)", env)}
			}
			return nil, &runner.ClusterError{Op: "connecting", Err: errNoCluster}
		}
		return nil, &runner.ClusterError{Op: "reading kubeconfig", Err: err}
	}
	// A run makes a handful of requests; the client's default rate limit
	// (5/s) would be the slowest part of it.
	config.QPS, config.Burst = 50, 100
	config.UserAgent = "envgen"
	return config, nil
}

func (o *kubeOptions) clients() (runner.Clients, error) {
	config, err := o.config()
	if err != nil {
		return runner.Clients{}, err
	}
	if o.requestTimeout > 0 {
		config.Wrap(runner.WithAnswerTimeout(o.requestTimeout))
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return runner.Clients{}, &runner.ClusterError{Op: "connecting", Err: err}
	}
	kube, err := runner.NewCore(config, dyn)
	if err != nil {
		return runner.Clients{}, &runner.ClusterError{Op: "connecting", Err: err}
	}
	return runner.Clients{Kube: kube, Dynamic: dyn}, nil
}
