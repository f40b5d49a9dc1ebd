// Package e2ekit holds what the end-to-end test packages share: building
// the envgen binary under test, running it against a test cluster, and the
// checks on its results.
package e2ekit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"envgen.dev/envgen/internal/testcluster"
)

// BuildEnvgen builds the envgen binary into a temporary directory and
// returns its path, and how to remove it.
func BuildEnvgen() (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "envgen-e2e-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	path = filepath.Join(dir, "envgen")
	build := exec.Command("go", "build", "-o", path, "./cmd/envgen")
	build.Dir = testcluster.RepoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // as make build ships it
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("building envgen: %w", err)
	}
	return path, cleanup, nil
}

// Result is how one envgen process ended.
type Result struct {
	Code           int
	Stdout, Stderr string
	Took           time.Duration
}

// Run runs the envgen binary with args against the cluster of kubeconfig.
// BUILD_TAG is cleared: a test names its builds itself.
func Run(t testing.TB, envgen, kubeconfig string, args ...string) Result {
	t.Helper()
	cmd := exec.Command(envgen, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "BUILD_TAG=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String(), Took: time.Since(start)}
	if exit, ok := err.(*exec.ExitError); ok {
		r.Code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running envgen: %v", err)
	}
	return r
}

// WantCode fails the test unless r exited with code.
func WantCode(t testing.TB, r Result, code int) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.Code, code, r.Stdout, r.Stderr)
	}
}

// WantContains marks the test failed unless s contains sub.
func WantContains(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s does not contain %q:\n%s", what, sub, s)
	}
}

// NamespaceGone waits until the namespace no longer exists.
func NamespaceGone(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		_, err := client.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("namespace %s still exists 90s after the run", name)
}
