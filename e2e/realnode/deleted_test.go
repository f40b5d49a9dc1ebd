package realnode

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/runner"
)

// A build Pod deleted from outside while it runs — by hand, with its
// namespace, by a drain — is killed by the kubelet: its container exits
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "real-deleted-" + tc.name
			// A build that ends on SIGTERM at once, as a well-behaved one does.
			dir := service(t, name, `command: ["sh", "-c", "trap 'exit 143' TERM; sleep 120 & wait"]`)
			cmd := exec.Command(envgen, "run", "--build-id", "del-1", dir)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer func() { _ = cmd.Process.Kill() }()
			ctx := context.Background()
			ns, pod := runner.NamespaceName(name, "del-1"), name+"-ci-build"
			// Wait for what is then deleted: the build container running.
			for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				p, err := cluster.Client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
				if err == nil && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Running != nil && p.Status.Phase == corev1.PodRunning {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the build never ran\n%s", stderr.String())
				}
			}
			if err := tc.delete(ctx, ns, pod); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 125 {
					t.Fatalf("exit %v, want 125 (not the kill's 143)\n%s", err, stderr.String())
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("the run did not end 60 s after its build Pod was deleted\n%s", stderr.String())
			}
			if !strings.Contains(stderr.String(), "build Pod "+pod+" was deleted while it ran, not by envgen") {
				t.Errorf("stderr does not say the Pod was deleted from outside:\n%s", stderr.String())
			}
		})
	}
}
