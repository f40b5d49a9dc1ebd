// Package realnode is the real lane of the end-to-end tests: envgen run on
// a control plane whose only node is a real kubelet with containerd and
// runc (internal/testcluster), where commands really run, images are
// really pulled (from a registry in this process), Secrets are really
// resolved and a read-only root filesystem is really read-only. What kwok
// cannot show is tested here; kwok's lane (package e2e) keeps scale and
// timing faults.
//
// It needs root and Debian's containerd, runc, containernetworking-plugins
// and busybox-static (make testbin installs them). Without them it fails,
// saying what is missing; ENVGEN_REAL_NODE=skip skips it instead.
package realnode

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/internal/testcluster"
)

var (
	cluster *testcluster.Cluster
	envgen  string
	// shared is a directory for what several tests use.
	shared string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("realnode: skipped in -short mode")
		return 0
	}
	if why := testcluster.RealNodeMissing(); why != "" {
		if os.Getenv("ENVGEN_REAL_NODE") == "skip" {
			fmt.Println("realnode: skipped (ENVGEN_REAL_NODE=skip):", why)
			return 0
		}
		fmt.Fprintln(os.Stderr, "realnode: cannot start a real node:", why, "(ENVGEN_REAL_NODE=skip skips this lane)")
		return 1
	}
	path, removeEnvgen, err := e2ekit.BuildEnvgen()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer removeEnvgen()
	envgen = path
	// What tests share outlives the test that made it (a t.TempDir would
	// not).
	if shared, err = os.MkdirTemp("", "envgen-realnode-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(shared)
	start := time.Now()
	cluster, err = testcluster.Start(context.Background(), testcluster.Options{RealNode: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test cluster:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "realnode: control plane + real node ready in %s\n", time.Since(start).Round(10*time.Millisecond))
	code := m.Run()
	cluster.Stop()
	// Stopping the cluster must leave nothing of the node behind.
	if left := cluster.Leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "realnode: the stopped node left behind:\n  %s\n", strings.Join(left, "\n  "))
		return 1
	}
	return code
}

// service writes an envgen.cue whose image is the registry's busybox and
// whose ci section has body ci, and returns its directory.
func service(t testing.TB, name, ci string) string {
	t.Helper()
	return serviceIn(t, cluster, name, ci)
}

// serviceIn is service with the busybox of cluster c's registry.
func serviceIn(t testing.TB, c *testcluster.Cluster, name, ci string) string {
	t.Helper()
	dir := t.TempDir()
	src := fmt.Sprintf(`name: %q
image: "%s/%s"
tag: %q
ports: http: 8080
securityContext: runAsUser: 1000
ci: {
	timeout: "5m"
%s
}
`, name, c.Registry, testcluster.BusyboxImage, testcluster.ImageTag, ci)
	if err := os.WriteFile(filepath.Join(dir, "envgen.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// busybox is the CUE of the registry's busybox image, for a test service.
func busybox() string {
	return fmt.Sprintf("image: %q, tag: %q", cluster.Registry+"/"+testcluster.BusyboxImage, testcluster.ImageTag)
}

func run(t testing.TB, args ...string) e2ekit.Result {
	t.Helper()
	return e2ekit.Run(t, envgen, cluster.Kubeconfig, args...)
}

func readFile(t testing.TB, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "envgen.cue"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeFile(t testing.TB, dir, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "envgen.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// developmentManifests writes src as envgen.cue of a new directory and
// returns the file envgen build --env development printed, and its text:
// what a test applies to the real node as envgen generated it.
func developmentManifests(t *testing.T, src string) (path, yaml string) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, src)
	r := run(t, "build", "--env", "development", dir)
	e2ekit.WantCode(t, r, 0)
	path = filepath.Join(dir, "development.yaml")
	if err := os.WriteFile(path, []byte(r.Stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, r.Stdout
}

var leastPrivilegeKubeconfig string

// leastPrivilege returns a kubeconfig of a ServiceAccount that holds
// exactly what envgen rbac prints (made the first time it is asked for),
// the pull requests' BuildKit daemon included: it starts that daemon
// first, whose namespace the Role goes in.
func leastPrivilege(t *testing.T) string {
	t.Helper()
	if leastPrivilegeKubeconfig == "" {
		daemon(t, "buildkitd")
		made := e2ekit.LeastPrivilegeKubeconfig(t, cluster, envgen, "jenkins", "envgen",
			"--buildkit", "kube-pod://buildkitd-0?namespace="+buildkitNamespace)
		data, err := os.ReadFile(made) // in the first caller's t.TempDir
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(shared, "least-privilege.kubeconfig")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		leastPrivilegeKubeconfig = path
	}
	return leastPrivilegeKubeconfig
}
