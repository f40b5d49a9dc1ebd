package e2e

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"envgen.dev/envgen/runner"
)

// The real kube-apiserver is killed (SIGKILL) and started again — the
// same port, certificates and etcd — while a build runs: once across the
// build's end, once just as envgen starts deleting the namespace. envgen
// sees the build's end within 5 s of the server being ready again, exits
// with the build's code, and leaves no namespace.
func TestRealAPIServerRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		// trigger is the stderr line after which the API server is killed
		// ("" to kill it while the build runs).
		trigger string
	}{{"during the build", ""}, {"during cleanup", "deleting namespace"}} {
		t.Run(tc.name, func(t *testing.T) {
			buildID := "apirestart-" + strings.ReplaceAll(tc.name, " ", "-")
			dir := service(t, "apirestart", `annotations: "kwok.test/delay": "3s"`)
			cmd := exec.Command(envgen, "run", "--build-id", buildID, dir)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			triggered := make(chan struct{})
			var lines []string
			linesDone := make(chan struct{})
			go func() {
				defer close(linesDone)
				scanner := bufio.NewScanner(stderr)
				once := false
				for scanner.Scan() {
					lines = append(lines, scanner.Text())
					if tc.trigger != "" && !once && strings.Contains(scanner.Text(), tc.trigger) {
						once = true
						close(triggered)
					}
				}
			}()
			ns := runner.NamespaceName("apirestart", buildID)
			if tc.trigger == "" {
				waitForRunningBuild(t, ns, "apirestart-ci-build")
				time.Sleep(2 * time.Second) // the build ends about 1 s into the outage
			} else {
				select {
				case <-triggered:
				case <-time.After(60 * time.Second):
					t.Fatal("envgen never started its cleanup")
				}
			}
			exited := make(chan time.Time, 1)
			var waitErr error
			go func() {
				<-linesDone
				waitErr = cmd.Wait()
				exited <- time.Now()
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := cluster.RestartAPIServer(ctx, 3*time.Second); err != nil {
				t.Fatal(err)
			}
			ready := time.Now()
			end := <-exited
			err = waitErr
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			if err != nil {
				t.Fatalf("exit %v, want 0\n%s", err, strings.Join(lines, "\n"))
			}
			// Before /readyz says ok is fine: the server answers requests a
			// little before it declares itself ready.
			if took := end.Sub(ready); took > 5*time.Second {
				t.Errorf("envgen ended %s after the API server was ready again, want within 5 s\n%s", took, strings.Join(lines, "\n"))
			} else {
				t.Logf("envgen ended %s after the API server's /readyz said ok (negative: before)", took.Round(time.Millisecond))
			}
			namespaceGone(t, ns)
		})
	}
}
