package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/runner"
)

// A test service that cannot be ready yet (it waits for capacity another
// Pod holds, under a long --schedule-grace) whose Deployment, or whole namespace, someone
// deletes: the run fails in seconds naming what vanished, instead of
// waiting for capacity that no Pod will ever ask for again.
func TestVanishedTestServiceFailsFast(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		remove     func(ctx context.Context, namespace string) error
	}{
		{"deployment", "test service vanish-deployment-db: its Deployment was deleted while waiting for it",
			func(ctx context.Context, namespace string) error {
				return cluster.Client.AppsV1().Deployments(namespace).Delete(ctx, "vanish-deployment-db", metav1.DeleteOptions{})
			}},
		{"namespace", "was deleted while waiting for the test services",
			func(ctx context.Context, namespace string) error {
				return cluster.Client.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{})
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "vanish-" + tc.name
			fillNode(t, "600")
			dir := service(t, name, `services: db: {image: "registry.example.org/db", tag: "1", resources: requests: cpu: "600"}`)
			cmd := exec.Command(envgen, "run", "--build-id", "v-1", "--quota", "cpu=2k", "--schedule-grace", "5m", dir)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			ctx := context.Background()
			ns := runner.NamespaceName(name, "v-1")
			deadline := time.Now().Add(30 * time.Second)
			for {
				if _, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, name+"-db", metav1.GetOptions{}); err == nil {
					break
				}
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("the test service's Deployment never appeared\n%s", stderr.String())
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(time.Second) // well into the wait for capacity
			if err := tc.remove(ctx, ns); err != nil {
				t.Fatal(err)
			}
			removed := time.Now()
			select {
			case err := <-done:
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 125 {
					t.Fatalf("exit %v, want 125\n%s", err, stderr.String())
				}
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("still waiting 30 s after the %s was deleted\n%s", tc.name, stderr.String())
			}
			if took := time.Since(removed); took > 10*time.Second {
				t.Errorf("took %s after the %s was deleted to fail", took, tc.name)
			}
			wantContains(t, "stderr", stderr.String(), tc.want)
			namespaceGone(t, ns)
		})
	}
}
