package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"envgen.dev/envgen/runner"
)

// TestNewcomerFirstService walks a newcomer's first day, as the README
// tells it, on the test cluster: envgen init in a service that has only
// a Dockerfile and a Makefile, vet passes as written, generate, envgen
// run of the ci build, then a change reviewed with diff and vet -o
// gerrit. Each step's time is logged.
func TestNewcomerFirstService(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hello")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"Dockerfile": "FROM registry.example.org/base:1\nEXPOSE 8080\n",
		"Makefile":   "test:\n\tgo test ./...\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	step := func(name string, code int, args ...string) result {
		t.Helper()
		start := time.Now()
		r := run(t, args...)
		t.Logf("%-28s %6.2f s", name, time.Since(start).Seconds())
		wantCode(t, r, code)
		return r
	}
	step("envgen init", 0, "init", "--image", "registry.example.org/hello:1.0", dir)
	step("envgen vet", 0, "vet", dir)
	step("envgen generate", 0, "generate", dir)
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.org"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "envgen init")
	r := step("envgen run (kwok)", 0, "run", "--build-id", "newcomer-1", dir)
	wantContains(t, "stderr", r.Stderr, "timing (namespace hello-ci-newcomer-1-")
	namespaceGone(t, runner.NamespaceName("hello", "newcomer-1"))

	// A change for review: three Pods in production.
	path := filepath.Join(dir, "envgen.cue")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(src), "production: {\n\t\treplicas: 2", "production: {\n\t\treplicas: 3", 1)
	if changed == string(src) {
		t.Fatalf("init's envgen.cue has no production replicas to change:\n%s", src)
	}
	if err := os.WriteFile(path, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	r = step("envgen diff --from HEAD", 1, "diff", "--from", "HEAD", dir)
	wantContains(t, "stdout", r.Stdout, "replicas")
	r = step("envgen vet -o gerrit", 0, "vet", "-o", "gerrit", dir)
	wantContains(t, "stdout", r.Stdout, `"message": "envgen vet: no findings`)
	step("envgen generate --check", 1, "generate", "--check", dir)
}
