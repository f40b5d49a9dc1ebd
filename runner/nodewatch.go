package runner

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeCheckInterval is how often a running build's node is looked at. A
// frozen kubelet sends nothing: no Pod event says that the build's
// status and log have stopped because its node has, so the node itself
// is read.
const nodeCheckInterval = 10 * time.Second

// watchNode says, while ctx lasts, when the node under a build Pod stops
// being Ready (a frozen or lost kubelet: Unknown once the node's lease
// runs out) and when it is Ready again. It only speaks: the run's timeout
// still decides, and a lost node's Pods are deleted by the cluster, which
// the Pod watch reports. A node that cannot be read is not reported on.
func watchNode(ctx context.Context, client *Core, node, what string, progress *events) {
	tick := time.NewTicker(nodeCheckInterval)
	defer tick.Stop()
	notReady := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ready, reason, ok := nodeReady(ctx, client, node)
		switch {
		case !ok:
		case !ready && !notReady:
			notReady = true
			why := "its kubelet reports it cannot run Pods"
			if strings.HasPrefix(reason, string(corev1.ConditionUnknown)) {
				why = "its kubelet is not reporting"
			}
			progress.Status("the node %s under %s is not Ready (%s): %s, so the build's status and log may stall until it returns or the cluster removes the node; --timeout still holds", node, what, oneLine(reason), why)
		case ready && notReady:
			notReady = false
			progress.Status("the node %s under %s is Ready again", node, what)
		}
	}
}

// nodeReady reads a node's Ready condition: its status, and its reason
// and message in words ("Unknown: NodeStatusUnknown: Kubelet stopped
// posting node status."). ok is false when the node cannot be read.
func nodeReady(ctx context.Context, client *Core, node string) (ready bool, reason string, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := client.ListNodesMatching(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + node})
	if err != nil || len(list.Items) != 1 {
		return false, "", false
	}
	for _, c := range list.Items[0].Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue, string(c.Status) + ": " + c.Reason + ": " + c.Message, true
		}
	}
	return false, "no Ready condition", true
}
