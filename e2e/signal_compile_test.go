package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// costlyCUE takes CUE seconds to evaluate: a comprehension over 10⁸
// numbers.
const costlyCUE = `import "list"

name:  "svc"
image: "registry.example.org/svc"
tag:   "1.0"
_many: [for i in list.Range(0, 100000000, 1) {i * 2}]
replicas: len(_many) - 199999998
`

// TestSignalStopsCompile: SIGTERM while envgen evaluates a costly
// envgen.cue ends it within a second, exit 143, with nothing written.
func TestSignalStopsCompile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "envgen.cue"), []byte(costlyCUE), 0o644); err != nil {
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

// TestStoppedDiffRemovesItsCopy: envgen diff copies the old revision's
// CUE files into a temporary directory; a signal or the time budget while
// it evaluates them (a costly old envgen.cue) ends it at once, and the copy
// is removed all the same.
func TestStoppedDiffRemovesItsCopy(t *testing.T) {
	dir, tmp := t.TempDir(), t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.email=t@example.org", "-c", "user.name=t"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "envgen.cue"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q", "-b", "main", ".")
	write(costlyCUE)
	git("add", "envgen.cue")
	git("commit", "-q", "-m", "costly")
	write("name: \"svc\"\nimage: \"registry.example.org/svc\"\ntag: \"1.0\"\n")

	leftovers := func() []string {
		left, _ := filepath.Glob(filepath.Join(tmp, "envgen-diff-*"))
		return left
	}
	cases := []struct {
		name   string
		args   []string
		signal os.Signal
		code   int
	}{
		{"SIGINT", []string{"diff", "--from", "HEAD", dir}, syscall.SIGINT, 130},
		{"time budget", []string{"--max-time", "2s", "diff", "--from", "HEAD", dir}, nil, 1},
	}
	for _, c := range cases {
		cmd := exec.Command(envgen, c.args...)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if c.signal != nil {
			time.Sleep(1500 * time.Millisecond)
			if len(leftovers()) == 0 {
				t.Errorf("%s: no copy of the old revision while it is evaluated", c.name)
			}
			if err := cmd.Process.Signal(c.signal); err != nil {
				t.Fatal(err)
			}
		}
		err := cmd.Wait()
		if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != c.code {
			t.Errorf("%s: %v, want exit %d", c.name, err, c.code)
		}
		if left := leftovers(); len(left) > 0 {
			t.Errorf("%s: envgen diff left %v behind", c.name, left)
		}
	}
}
