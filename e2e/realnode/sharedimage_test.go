package realnode

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/internal/e2ekit"
)

// TestImageBuildInASharedNamespace: run --namespace with an image built
// from the repository marks the objects it pins to the built image as its
// own, as it marks every other: its cleanup deletes them, and the next
// build of the service there runs (the build Pod was left unmarked, and
// every later build refused it as "not created by envgen run", 125).
func TestImageBuildInASharedNamespace(t *testing.T) {
	addr := daemon(t, "buildkitd")
	ctx := context.Background()
	const ns = "shared-image-builds"
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}) })
	dir := repo(t, "img-shared", "", `command: ["cat", "/app/built"]`, map[string]string{
		"Dockerfile": fromBusybox() + "\nRUN mkdir -p /app && echo built in the shared namespace > /app/built\n",
	})
	for _, id := range []string{"shared-1", "shared-2"} {
		r := run(t, "run", "--buildkit", addr, "--namespace", ns, "--build-id", id, dir)
		e2ekit.WantCode(t, r, 0)
		e2ekit.WantContains(t, "stdout", r.Stdout, "built in the shared namespace\n")
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		pods, err := cluster.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err == nil && len(pods.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("left in %s: %v %v", ns, err, len(pods.Items))
		}
	}
}
