// Package e2e runs the envgen binary against a real control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, and kwok as the
// kubelet), started once for the package by internal/testcluster.
package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/internal/testcluster"
)

var (
	cluster *testcluster.Cluster
	envgen  string // path of the envgen binary under test
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		return 0
	}
	tmp, err := os.MkdirTemp("", "envgen-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	envgen = filepath.Join(tmp, "envgen")
	build := exec.Command("go", "build", "-o", envgen, "./cmd/envgen")
	build.Dir = testcluster.RepoRoot()
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building envgen:", err)
		return 1
	}
	start := time.Now()
	cluster, err = testcluster.Start(context.Background(), filepath.Join(testcluster.RepoRoot(), "hack", "kwok", "build.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test cluster:", err)
		return 1
	}
	defer cluster.Stop()
	fmt.Fprintf(os.Stderr, "e2e: control plane + kwok node ready in %s\n", time.Since(start).Round(10*time.Millisecond))
	return m.Run()
}

// service writes an envgen.cue for a test; ci holds the body of its ci
// section.
func service(t *testing.T, name, ci string) string {
	t.Helper()
	dir := t.TempDir()
	src := fmt.Sprintf(`name: %q
image: "registry.example.org/%s"
tag: "1.0"
ports: http: 8080
securityContext: runAsUser: 1000
ci: {
	command: ["make", "test"]
	timeout: "5m"
%s
}
`, name, name, ci)
	if err := os.WriteFile(filepath.Join(dir, "envgen.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// run runs envgen with args against the test cluster.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runWith(t, cluster.Kubeconfig, args...)
}

func runWith(t *testing.T, kubeconfig string, args ...string) result {
	t.Helper()
	cmd := exec.Command(envgen, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "BUILD_TAG=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	if exit, ok := err.(*exec.ExitError); ok {
		r.code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running envgen: %v", err)
	}
	return r
}

// namespaceGone waits until the namespace no longer exists.
func namespaceGone(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		_, err := cluster.Client.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("namespace %s still exists 90s after the run", name)
}

func wantCode(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

func wantContains(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s does not contain %q:\n%s", what, sub, s)
	}
}
