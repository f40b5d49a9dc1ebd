package runner

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeCheckInterval is how often a running build's node is looked at. A
// frozen kubelet sends nothing: no Pod event says that the build's
// status and log have stopped because its node has, so the node itself
// is read.
var nodeCheckInterval = 10 * time.Second

// DefaultNodeLostAfter is how long the node under a build may stay not
// Ready before the run ends (125). The cluster itself evicts a lost
// node's Pods only after 5 minutes (their default tolerations), and a
// build whose end cannot be seen is not worth a CI job's whole timeout.
const DefaultNodeLostAfter = 2 * time.Minute

// nodeWatch follows the node under a build Pod while the build waits or
// runs: it says when the node stops being Ready (a frozen or lost kubelet:
// Unknown once the node's lease runs out) and when it is Ready again, and
// once the node has not been Ready for lostAfter it calls lost, which
// ends the run: the build may well be over, but nothing will say so. A
// node that cannot be read is not reported on.
type nodeWatch struct {
	client    *Core
	node      string
	what      string
	progress  *events
	lostAfter time.Duration
	lost      func(*ClusterError)
}

func (w *nodeWatch) run(ctx context.Context) {
	tick := time.NewTicker(nodeCheckInterval)
	defer tick.Stop()
	var notReadySince time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ready, reason, ok := nodeReady(ctx, w.client, w.node)
		switch {
		case !ok:
		case !ready && notReadySince.IsZero():
			notReadySince = time.Now()
			why := "its kubelet reports it cannot run Pods"
			if strings.HasPrefix(reason, string(corev1.ConditionUnknown)) {
				why = "its kubelet is not reporting"
			}
			w.progress.Status("the node %s under %s is not Ready (%s): %s, so the build's status and log may stall until it returns; the run ends if it is not back within %s (--node-lost-after)", w.node, w.what, oneLine(reason), why, w.lostAfter)
		case !ready && w.lostAfter > 0 && time.Since(notReadySince) >= w.lostAfter:
			w.lost(nodeLostError(w.node, w.what, fmt.Sprintf("has not been Ready for %s (--node-lost-after; %s)", time.Since(notReadySince).Round(time.Second), oneLine(reason))))
			return
		case ready && !notReadySince.IsZero():
			notReadySince = time.Time{}
			w.progress.Status("the node %s under %s is Ready again", w.node, w.what)
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

// nodeLost reads the build's node once more when the run's time has run
// out, and says so if it is not Ready: a frozen or lost kubelet reports
// no exit, so the build may have ended long ago. It reads with a bound of
// its own, the run's context being over.
func nodeLost(node, what string, client *Core) *ClusterError {
	ready, reason, ok := nodeReady(context.Background(), client, node)
	if !ok || ready {
		return nil
	}
	return nodeLostError(node, what, fmt.Sprintf("is not Ready when --timeout passed (%s)", oneLine(reason)))
}

// nodeLostError ends a run whose build's node is gone: 125, the node's
// failure, never a timeout of the build.
func nodeLostError(node, what, how string) *ClusterError {
	return &ClusterError{Op: "running the build", nodeLost: true, Err: fmt.Errorf("the node %s under %s %s: the build's end cannot be seen there; the node, not the build, failed", node, what, how)}
}
