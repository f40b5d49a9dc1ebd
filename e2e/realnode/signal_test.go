package realnode

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

// SIGTERM while the build runs: envgen exits 143 after deleting the
// namespace, and the kubelet really stops the container — the process is
// gone from this machine, not only the Pod from the API.
func TestSIGTERMStopsTheRunningBuild(t *testing.T) {
	// A sleep no other process on the machine has: it is how the test
	// finds the build's process.
	const marker = "3141"
	// The shell stops on SIGTERM as a test runner would; a bare sleep as
	// PID 1 ignores it and the kubelet would wait out the grace period.
	dir := service(t, "real-term", `command: ["sh", "-c", "trap 'exit 143' TERM; sleep `+marker+` & wait"]`)
	cmd := exec.Command(envgen, "run", "--build-id", "term-1", dir)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig, "BUILD_TAG=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	deadline := time.Now().Add(60 * time.Second)
	for len(buildProcesses(marker)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the build's process did not start in 60s:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	exit, ok := err.(*exec.ExitError)
	if !ok || exit.ExitCode() != 143 {
		t.Fatalf("envgen ended with %v, want exit code 143:\n%s", err, stderr.String())
	}
	e2ekit.WantContains(t, "stderr", stderr.String(), "deleting namespace")
	e2ekit.NamespaceGone(t, cluster.Client, runner.NamespaceName("real-term", "term-1"))
	// The Pod's grace period is over by the time the namespace is gone;
	// the process must be too.
	if pids := buildProcesses(marker); len(pids) > 0 {
		t.Errorf("the build's process still runs after the namespace is gone: %v", pids)
	}
}

// buildProcesses finds the processes running "sleep <marker>".
func buildProcesses(marker string) []string {
	entries, _ := os.ReadDir("/proc")
	var pids []string
	for _, e := range entries {
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Join(strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"), " ") == "sleep "+marker {
			pids = append(pids, e.Name())
		}
	}
	return pids
}
