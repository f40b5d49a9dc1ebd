package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/cmd/envgen/cli"
	"envgen.dev/envgen/cmd/envgen/clustercli"
)

// envgen's help lists every cluster command as envgen-cluster has it, and
// nothing envgen-cluster lacks.
func TestHelpListsTheClusterCommands(t *testing.T) {
	full := map[string]*cobra.Command{}
	for _, c := range clustercli.Root().Commands() {
		full[c.Name()] = c
	}
	light := map[string]bool{}
	for _, c := range cli.Root(nil).Commands() {
		light[c.Name()] = true
		if f, ok := full[c.Name()]; !ok {
			t.Errorf("envgen has %s, envgen-cluster does not", c.Name())
		} else if f.Short != c.Short {
			t.Errorf("envgen %s: envgen's help says %q, its own %q", c.Name(), c.Short, f.Short)
		}
	}
	for _, c := range clustercli.Commands() {
		if !light[c.Name()] {
			t.Errorf("envgen's help does not list %s", c.Name())
		}
	}
}

// The compile commands' binary links none of the clients the cluster
// commands need: their package initialisation is what the split saves.
func TestEnvgenLinksNoClusterClients(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "envgen.dev/envgen/cmd/envgen").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"k8s.io/client-go/", "github.com/moby/buildkit/", "google.golang.org/grpc", "github.com/google/go-containerregistry/", "envgen.dev/envgen/runner", "envgen.dev/envgen/imagebuild", "envgen.dev/envgen/pins/registry"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("envgen links %s", pkg)
			}
		}
	}
}

// buildPair builds envgen and envgen-cluster, as make build does, into a
// directory, once for the package's tests; they only read it.
func buildPair(t *testing.T) string {
	t.Helper()
	pair.once.Do(func() {
		pair.dir, pair.err = os.MkdirTemp("", "envgen-pair-")
		for _, name := range []string{"envgen", cli.ClusterBinary} {
			if pair.err != nil {
				return
			}
			build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(pair.dir, name), "envgen.dev/envgen/cmd/"+name)
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				pair.err = fmt.Errorf("building %s: %v\n%s", name, err, out)
			}
		}
	})
	if pair.err != nil {
		t.Fatal(pair.err)
	}
	return pair.dir
}

var pair struct {
	once sync.Once
	dir  string
	err  error
}

// copyBinary copies an executable file.
func copyBinary(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

type outcome struct {
	code           int
	stdout, stderr string
}

func runBinary(t *testing.T, binary string, args ...string) outcome {
	t.Helper()
	return runWith(t, nil, binary, args...)
}

// runWith runs binary with args and env added to the environment.
func runWith(t *testing.T, env []string, binary string, args ...string) outcome {
	t.Helper()
	// Bounded: a handover that loops must fail the test, not hang it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return outcome{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// envgen hands a cluster command over whole: what it prints and its exit
// code are envgen-cluster's, for help, completion, usage errors and the
// command's own failures.
func TestClusterCommandsAreHandedOver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both binaries")
	}
	dir := buildPair(t)
	envgen, cluster := filepath.Join(dir, "envgen"), filepath.Join(dir, cli.ClusterBinary)
	for _, args := range [][]string{
		{"run", "--help"},
		{"help", "gc"},
		{"--max-time", "5s", "help", "run"},
		{"help", "--", "promote"},
		{"rbac"},
		{"buildkit", "--port", "0"},
		{"image", "--no-such-flag"},
		{"--max-time", "5s", "lock", "--check", "no/such/service"},
		{"promote", "--image", "r.example.org/svc:1.0", "no/such/service"},
		{"run", "no/such/service"},
		{cobra.ShellCompRequestCmd, "run", "--"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			got, want := runBinary(t, envgen, args...), runBinary(t, cluster, args...)
			if got != want {
				t.Errorf("envgen: %+v\nenvgen-cluster: %+v", got, want)
			}
		})
	}
	// The help is the command's own, flags and all, not a placeholder.
	if help := runBinary(t, envgen, "run", "--help").stdout; !strings.Contains(help, "--timeout") {
		t.Errorf("envgen run --help:\n%s", help)
	}

	// A profile of envgen does not follow it into envgen-cluster (its
	// timer's signal killed envgen-cluster before its handler was set).
	for range 5 {
		if got := runWith(t, []string{"ENVGEN_CPUPROFILE=" + filepath.Join(t.TempDir(), "cpu.prof")}, envgen, "rbac"); got.code != 0 {
			t.Fatalf("envgen rbac with ENVGEN_CPUPROFILE: %+v", got)
		}
	}

	// envgen-cluster refuses a command handed over by another build's
	// envgen (a stale envgen-cluster beside a new envgen).
	if got := runWith(t, []string{"ENVGEN_HANDED_OVER_BY=envgen 0.0.1 (commit 0123456789ab, …)"}, cluster, "run", "--env", "ci"); got.code != 125 || !strings.Contains(got.stderr, "install both from one build") {
		t.Errorf("a command handed over by another build: %+v", got)
	}

	// A link to envgen finds envgen-cluster beside the file it leads to.
	elsewhere := filepath.Join(t.TempDir(), "envgen")
	if err := os.Symlink(envgen, elsewhere); err != nil {
		t.Fatal(err)
	}
	if got := runBinary(t, elsewhere, "rbac"); got.code != 0 || !strings.Contains(got.stdout, "kind: ClusterRole") {
		t.Errorf("through a link: %+v", got)
	}

	// envgen install copies both.
	tools := t.TempDir()
	if got := runBinary(t, envgen, "install", tools); got.code != 0 {
		t.Fatalf("install: %+v", got)
	}
	if got := runBinary(t, filepath.Join(tools, "envgen"), "rbac"); got.code != 0 {
		t.Errorf("installed envgen rbac: %+v", got)
	}
}

// Without envgen-cluster beside it, envgen says what is missing; its exit
// code for run is 125 (envgen failed, the build did not run), never one a
// build could have exited with. The compile commands do not need it.
func TestClusterCommandsWithoutEnvgenCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both binaries")
	}
	envgen := filepath.Join(buildPair(t), "envgen")
	alone := filepath.Join(t.TempDir(), "envgen")
	copyBinary(t, envgen, alone)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"run", "--env", "ci"}, 125},
		{[]string{"rbac"}, cli.ExitIO},
		{[]string{"help", "promote"}, 125},
	} {
		got := runBinary(t, alone, tc.args...)
		if got.code != tc.code || !strings.Contains(got.stderr, "envgen-cluster, which is not installed beside envgen") {
			t.Errorf("envgen %s: %+v, want exit %d and what is missing", strings.Join(tc.args, " "), got, tc.code)
		}
	}
	if got := runBinary(t, alone, "version"); got.code != 0 {
		t.Errorf("envgen version without envgen-cluster: %+v", got)
	}
	tools := t.TempDir()
	if got := runBinary(t, alone, "install", tools); got.code != cli.ExitIO || !strings.Contains(got.stderr, cli.ClusterBinary) {
		t.Errorf("envgen install without envgen-cluster: %+v", got)
	}
	if entries, _ := os.ReadDir(tools); len(entries) != 0 {
		t.Errorf("envgen install without envgen-cluster wrote %v", entries)
	}

	// An envgen-cluster that is envgen itself would get the command back
	// forever.
	copyBinary(t, envgen, filepath.Join(filepath.Dir(alone), cli.ClusterBinary))
	if got := runBinary(t, alone, "rbac"); got.code != cli.ExitIO || !strings.Contains(got.stderr, "handed back") {
		t.Errorf("envgen-cluster a copy of envgen: %+v", got)
	}
}

// envgen install, run as a binary of another name, installs itself as
// envgen, beside the envgen-cluster it found.
func TestInstallARenamedEnvgen(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both binaries")
	}
	pair := buildPair(t)
	dir := t.TempDir()
	for from, to := range map[string]string{"envgen": "envgen-linux-amd64", cli.ClusterBinary: cli.ClusterBinary} {
		copyBinary(t, filepath.Join(pair, from), filepath.Join(dir, to))
	}
	tools := t.TempDir()
	if got := runBinary(t, filepath.Join(dir, "envgen-linux-amd64"), "install", tools); got.code != 0 {
		t.Fatalf("install: %+v", got)
	}
	if got := runBinary(t, filepath.Join(tools, "envgen"), "rbac"); got.code != 0 {
		t.Errorf("installed envgen rbac: %+v", got)
	}
}

// The parent that supervises an evaluation (package evaluator) starts its
// child before CUE, kustomize and Kubernetes' API types initialise: the
// parent never runs them, and would only pay for them.
func TestSupervisorStartsBeforeTheCompilerInitialises(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both binaries")
	}
	envgen := filepath.Join(buildPair(t), "envgen")
	examples, err := filepath.Abs(filepath.Join("..", "..", "examples", "citoid"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(envgen, "build", "--env", "ci", examples)
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	// The parent's trace ends where the child's starts (with the
	// runtime's own packages again); the parent waits for the child.
	lines := strings.Split(stderr.String(), "\n")
	parent := 0
	for i, line := range lines {
		if i > 0 && strings.HasPrefix(line, "init internal/bytealg ") {
			parent = i
			break
		}
	}
	if parent == 0 {
		t.Fatalf("no child's trace after the parent's:\n%s", stderr.String())
	}
	for _, line := range lines[:parent] {
		for _, heavy := range []string{"cuelang.org/go/cue", "sigs.k8s.io/kustomize", "k8s.io/api", "github.com/cockroachdb/apd", "google.golang.org/protobuf/reflect", "envgen.dev/envgen/compiler"} {
			if strings.HasPrefix(line, "init "+heavy) {
				t.Errorf("the supervising parent initialised %s", strings.Fields(line)[1])
			}
		}
	}
	if !strings.Contains(strings.Join(lines[parent:], "\n"), "init envgen.dev/envgen/compiler ") {
		t.Errorf("the child's trace does not show the compiler (the split point is wrong):\n%s", strings.Join(lines[parent:], "\n"))
	}
}
