package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestSignalStopsCompile: SIGTERM while envgen evaluates a costly
// envgen.cue ends it within a second, exit 143, with nothing written.
func TestSignalStopsCompile(t *testing.T) {
	dir := t.TempDir()
	src := `import "list"

name:  "svc"
image: "registry.example.org/svc"
tag:   "1.0"
_many: [for i in list.Range(0, 100000000, 1) {i * 2}]
replicas: len(_many) - 199999998
`
	if err := os.WriteFile(filepath.Join(dir, "envgen.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := exec.Command(envgen, "generate", "--max-time", "10m", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(700 * time.Millisecond)
		sent := time.Now()
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		took := time.Since(sent)
		exit, ok := err.(*exec.ExitError)
		if !ok || exit.ExitCode() != 128+int(sig) {
			t.Errorf("%v: %v, want exit %d", sig, err, 128+int(sig))
		}
		if took > time.Second {
			t.Errorf("%v: envgen took %s to stop", sig, took)
		}
		if _, err := os.Stat(filepath.Join(dir, "deploy")); !os.IsNotExist(err) {
			t.Errorf("%v: deploy/ exists after an interrupted generate", sig)
		}
	}
}
