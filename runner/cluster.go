package runner

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/model"
)

// WrongClusterError says that the kubeconfig points at a cluster the
// environment is not bound to.
type WrongClusterError struct{ msg string }

func (e *WrongClusterError) Error() string { return e.msg }

// CheckCluster refuses a cluster other than the one envgen.cue binds the
// environment to: by the API server's URL, and by the UID of the cluster's
// kube-system namespace.
func CheckCluster(ctx context.Context, client *Core, env string, want *model.Cluster) error {
	if want == nil {
		return nil
	}
	if want.Server != "" {
		have := strings.TrimRight(client.host, "/")
		if have != strings.TrimRight(want.Server, "/") {
			return &WrongClusterError{msg: fmt.Sprintf("environment %s runs on %s (envgen.cue's cluster.server), but the kubeconfig points at %s", env, want.Server, have)}
		}
	}
	if want.UID != "" {
		list, err := client.ListNamespaces(ctx, metav1.ListOptions{FieldSelector: "metadata.name=kube-system"})
		if err != nil {
			return &ClusterError{Op: "reading the cluster's identity (namespace kube-system)", Err: err}
		}
		have := ""
		if len(list.Items) == 1 {
			have = string(list.Items[0].UID)
		}
		if have != want.UID {
			return &WrongClusterError{msg: fmt.Sprintf("environment %s runs on the cluster whose kube-system namespace has UID %s (envgen.cue's cluster.uid), but this cluster's is %q", env, want.UID, have)}
		}
	}
	return nil
}
