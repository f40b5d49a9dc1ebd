// Package e2e runs the envgen binary against a real control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, and kwok as the
// kubelet), started once for the package by internal/testcluster.
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"envgen.dev/envgen/internal/e2ekit"
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
	path, removeEnvgen, err := e2ekit.BuildEnvgen()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer removeEnvgen()
	envgen = path
	start := time.Now()
	cluster, err = testcluster.Start(context.Background(), testcluster.Options{Kwok: true, KwokLog: filepath.Join(testcluster.RepoRoot(), "hack", "kwok", "build.log")})
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

type result = e2ekit.Result

// run runs envgen with args against the test cluster.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return runWith(t, cluster.Kubeconfig, args...)
}

func runWith(t *testing.T, kubeconfig string, args ...string) result {
	t.Helper()
	return e2ekit.Run(t, envgen, kubeconfig, args...)
}

func namespaceGone(t *testing.T, name string) {
	t.Helper()
	e2ekit.NamespaceGone(t, cluster.Client, name)
}

var (
	wantCode     = e2ekit.WantCode
	wantContains = e2ekit.WantContains
)
