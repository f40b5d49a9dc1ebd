package realnode

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

// TestFrozenKubeletEndsTheRun: the real node's kubelet stops (SIGSTOP, as
// a hung or partitioned kubelet) while the build runs. Its container runs
// on, but nothing will report its end: kube-controller-manager calls the
// node Unknown once its lease runs out, envgen names the node, and after
// --node-lost-after it ends the run with 125 — the node's failure, not a
// build that ran too long (124) and never the build's own code.
func TestFrozenKubeletEndsTheRun(t *testing.T) {
	const name = "real-frozen"
	dir := service(t, name, `command: ["sleep", "600"]`)
	running := e2ekit.Start(t, envgen, cluster.Kubeconfig, "run", "--build-id", "frozen-1", "--node-lost-after", "5s", "--timeout", "5m", dir)
	ns := runner.NamespaceName(name, "frozen-1")
	running.WaitForStderr(t, "build running", 90*time.Second)

	thaw, err := cluster.FreezeKubelet()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := thaw(); err != nil {
			t.Errorf("the node did not come back: %v", err)
		}
		e2ekit.NamespaceGone(t, cluster.Client, ns)
	})
	frozen := time.Now()
	r := running.Wait(t, 3*time.Minute)
	t.Logf("the run ended %s after the kubelet froze", time.Since(frozen).Round(time.Second))
	e2ekit.WantCode(t, r, 125)
	e2ekit.WantContains(t, "stderr", r.Stderr, "the node localhost under the build Pod is not Ready (Unknown")
	e2ekit.WantContains(t, "stderr", r.Stderr, "the node localhost under the build Pod has not been Ready for")
	if err := thaw(); err != nil {
		t.Fatalf("the node did not come back: %v", err)
	}
	// Back, the kubelet ends what envgen's cleanup deleted.
	e2ekit.NamespaceGone(t, cluster.Client, ns)
	if _, err := cluster.Client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); err == nil {
		t.Errorf("namespace %s outlived the run", ns)
	}
}
