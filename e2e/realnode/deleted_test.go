package realnode

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

// A build Pod deleted from outside while it runs — by hand, with its
// namespace, evicted by a drain — is killed by the kubelet: its container exits
// 143, which is the deletion's, not the build's. envgen run says so and
// exits 125 on the real node as on kwok, never with the kill's code.
func TestBuildPodDeletedFromOutside(t *testing.T) {
	for _, tc := range []struct {
		name   string
		delete func(ctx context.Context, namespace, pod string) error
	}{
		{"pod", func(ctx context.Context, namespace, pod string) error {
			return cluster.Client.CoreV1().Pods(namespace).Delete(ctx, pod, metav1.DeleteOptions{})
		}},
		{"namespace", func(ctx context.Context, namespace, _ string) error {
			return cluster.Client.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{})
		}},
		// kubectl drain's way: the Eviction API, which a PodDisruptionBudget
		// could refuse (envgen makes none for a build Pod).
		{"eviction", func(ctx context.Context, namespace, pod string) error {
			return cluster.Client.PolicyV1().Evictions(namespace).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: namespace}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "real-deleted-" + tc.name
			// A build that ends on SIGTERM at once, as a well-behaved one does.
			dir := service(t, name, `command: ["sh", "-c", "trap 'exit 143' TERM; sleep 120 & wait"]`)
			buildID := fmt.Sprintf("del-%d", time.Now().UnixNano()%1e9) // make soak runs it again
			running := e2ekit.Start(t, envgen, cluster.Kubeconfig, "run", "--build-id", buildID, dir)
			ctx := context.Background()
			ns, pod := runner.NamespaceName(name, buildID), name+"-ci-build"
			// Wait for what is then deleted: the build container running.
			for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				p, err := cluster.Client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
				if err == nil && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Running != nil && p.Status.Phase == corev1.PodRunning {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the build never ran\n%s", running.Stderr())
				}
			}
			if err := tc.delete(ctx, ns, pod); err != nil {
				t.Fatal(err)
			}
			r := running.Wait(t, 60*time.Second)
			e2ekit.WantCode(t, r, 125) // not the kill's 143
			e2ekit.WantContains(t, "stderr", r.Stderr, "build Pod "+pod+" was deleted while it ran, not by envgen")
		})
	}
}
