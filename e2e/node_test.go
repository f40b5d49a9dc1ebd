package e2e

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

// A frozen kubelet sends no Pod event, so nothing in the build's own
// watch says why it stopped moving: the run names the node under the
// build Pod while that node is not Ready, and says when it is back. Run
// as the account `envgen rbac` documents, which may list nodes. The node
// is one no kubelet runs (kwok leaves it alone), so its Pod stays where
// the scheduler put it; its Ready condition is set by hand, as a kubelet
// would set it and kube-controller-manager does (Unknown) when a kubelet
// stops renewing its lease.
func TestNotReadyNodeIsNamedWhileTheBuildWaits(t *testing.T) {
	const node = "frozen-node"
	idleNode(t, node)
	kubeconfig := e2ekit.LeastPrivilegeKubeconfig(t, cluster, envgen, "jenkins-node", "envgen")
	dir := service(t, "frozen", "")
	appendFile(t, dir, `environments: ci: scheduling: {nodeSelector: "envgen.test/node": "`+node+`", tolerations: [{key: "envgen.test/frozen", operator: "Exists"}]}`+"\n")
	running := e2ekit.Start(t, envgen, kubeconfig, "run", "--build-id", "frozen-1", dir)
	ns := runner.NamespaceName("frozen", "frozen-1")
	t.Cleanup(func() { forceDeletePods(t, ns) }) // no kubelet confirms their end
	running.WaitForStderr(t, "the build Pod scheduled on "+node, time.Minute)

	setNodeReady(t, node, corev1.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status.")
	running.WaitForStderr(t, "the node "+node+" under the build Pod is not Ready (Unknown: NodeStatusUnknown: Kubelet stopped posting node status.)", 30*time.Second)
	setNodeReady(t, node, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status")
	running.WaitForStderr(t, "the node "+node+" under the build Pod is Ready again", 30*time.Second)

	running.Signal(t, syscall.SIGINT)
	r := running.Wait(t, time.Minute)
	wantCode(t, r, 130)
}

// A node that stays not Ready ends the run after --node-lost-after with
// 125 and the node named: its kubelet will never report the build's end,
// and waiting for --timeout (or for the cluster's eviction of the node's
// Pods, 5 minutes later) says nothing more.
func TestLostNodeEndsTheRun(t *testing.T) {
	const node = "lost-node"
	idleNode(t, node)
	dir := service(t, "lost", "")
	appendFile(t, dir, `environments: ci: scheduling: {nodeSelector: "envgen.test/node": "`+node+`", tolerations: [{key: "envgen.test/frozen", operator: "Exists"}]}`+"\n")
	running := e2ekit.Start(t, envgen, cluster.Kubeconfig, "run", "--build-id", "lost-1", "--node-lost-after", "5s", dir)
	ns := runner.NamespaceName("lost", "lost-1")
	t.Cleanup(func() { forceDeletePods(t, ns) })
	running.WaitForStderr(t, "the build Pod scheduled on "+node, time.Minute)
	setNodeReady(t, node, corev1.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status.")
	r := running.Wait(t, time.Minute)
	wantCode(t, r, 125)
	e2ekit.WantContains(t, "stderr", r.Stderr, "the node "+node+" under the build Pod has not been Ready for")
	e2ekit.WantContains(t, "stderr", r.Stderr, "the node, not the build, failed")
}

// idleNode registers a Node that no kubelet runs and only Pods that
// tolerate envgen.test/frozen may use, Ready, until the test ends.
func idleNode(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	nodes := cluster.Client.CoreV1().Nodes()
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "envgen.test/node": name}},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: "envgen.test/frozen", Value: "true", Effect: corev1.TaintEffectNoSchedule}}},
	}
	if _, err := nodes.Create(ctx, n, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nodes.Delete(ctx, name, metav1.DeleteOptions{}) })
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := nodes.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")}
		n.Status.Capacity, n.Status.Allocatable = capacity, capacity
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		_, err = nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Admission puts a not-ready taint on every new Node, which
	// kube-controller-manager lifts once the Node says it is Ready.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		n, err := nodes.Get(ctx, name, metav1.GetOptions{})
		if err == nil && len(n.Spec.Taints) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s keeps its taints: %v (%v)", name, n.Spec.Taints, err)
		}
	}
}

// setNodeReady sets a node's Ready condition.
func setNodeReady(t *testing.T, name string, status corev1.ConditionStatus, reason, message string) {
	t.Helper()
	ctx := context.Background()
	nodes := cluster.Client.CoreV1().Nodes()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := nodes.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for i, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				n.Status.Conditions[i] = corev1.NodeCondition{Type: corev1.NodeReady, Status: status, Reason: reason, Message: message,
					LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}
			}
		}
		_, err = nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// forceDeletePods removes a namespace's Pods at once, as `kubectl delete
// --force` does for Pods of a node that will never confirm their end.
func forceDeletePods(t *testing.T, namespace string) {
	ctx := context.Background()
	zero := int64(0)
	_ = cluster.Client.CoreV1().Pods(namespace).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	namespaceGone(t, namespace)
}

// appendFile adds text to dir's envgen.cue.
func appendFile(t *testing.T, dir, text string) {
	t.Helper()
	path := filepath.Join(dir, "envgen.cue")
	src, err := os.ReadFile(path)
	if err == nil {
		err = os.WriteFile(path, append(src, text...), 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}
