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
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"envgen.dev/envgen/internal/testcluster"
)

// BuildEnvgen builds envgen, and the envgen-cluster it hands its cluster
// commands to, into a temporary directory and returns envgen's path, and
// how to remove them.
func BuildEnvgen() (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "envgen-e2e-")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	if err := BuildBinaries(dir); err != nil {
		cleanup()
		return "", nil, err
	}
	return filepath.Join(dir, "envgen"), cleanup, nil
}

// BuildBinaries builds envgen and envgen-cluster into dir, static, as
// make build ships them.
func BuildBinaries(dir string) error {
	for _, name := range []string{"envgen", "envgen-cluster"} {
		build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, name), "./cmd/"+name)
		build.Dir = testcluster.RepoRoot()
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building %s: %w", name, err)
		}
	}
	return nil
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

// Running is an envgen started in the background (Start).
type Running struct {
	cmd            *exec.Cmd
	stdout, stderr LockedBuffer
	done           chan error
	start          time.Time
}

// LockedBuffer is a buffer a process writes while the test reads it.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Start runs envgen with args in the background; the test kills it at its
// end if it is still running.
func Start(t testing.TB, envgen, kubeconfig string, args ...string) *Running {
	t.Helper()
	r := &Running{cmd: exec.Command(envgen, args...), done: make(chan error, 1), start: time.Now()}
	r.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "BUILD_TAG=")
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() { _ = r.cmd.Process.Kill() })
	return r
}

// Signal sends sig to the running envgen.
func (r *Running) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// Stderr is what envgen has written to stderr so far (for a failure's
// message while it runs).
func (r *Running) Stderr() string { return r.stderr.String() }

// WaitForStderr waits up to within for line to be on the running envgen's
// stderr: what a test then acts on (the build running, a node named).
func (r *Running) WaitForStderr(t testing.TB, line string, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); !strings.Contains(r.Stderr(), line); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q on envgen's stderr within %s:\n%s", line, within, r.Stderr())
		}
	}
}

// Wait waits up to timeout for envgen to exit and returns its result.
func (r *Running) Wait(t testing.TB, timeout time.Duration) Result {
	t.Helper()
	select {
	case err := <-r.done:
		res := Result{Stdout: r.stdout.String(), Stderr: r.stderr.String(), Took: time.Since(r.start)}
		if exit, ok := err.(*exec.ExitError); ok {
			res.Code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("running envgen: %v", err)
		}
		return res
	case <-time.After(timeout):
		t.Fatalf("envgen still running after %s\n%s", timeout, r.stderr.String())
		return Result{}
	}
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
