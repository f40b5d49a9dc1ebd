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
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

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
// fillNode takes cpu of the kwok node's 1,000 CPUs with a Pod of its own
// until the test ends: a build that asks for more than is left waits for
// capacity a finished build would free (a request no node could hold even
// empty fails at once). It returns when the Pod is on the node.
func fillNode(t *testing.T, cpu string) {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "filler-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))}}
	if len(ns.Name) > 63 {
		ns.Name = ns.Name[:63]
	}
	ns.Name = strings.TrimRight(strings.ReplaceAll(ns.Name, "_", "-"), "-")
	if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.Client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
		namespaceGone(t, ns.Name) // its CPUs are free for the next test
	})
	no, yes := false, true
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "filler"}, Spec: corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: ptr.To(int64(1000)), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Containers: []corev1.Container{{
			Name: "filler", Image: "registry.example.org/filler:1",
			Resources:       corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
			SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
		}},
	}}
	if _, err := cluster.Client.CoreV1().Pods(ns.Name).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		p, err := cluster.Client.CoreV1().Pods(ns.Name).Get(ctx, "filler", metav1.GetOptions{})
		if err == nil && p.Spec.NodeName != "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the filler Pod was not scheduled: %v", err)
		}
	}
}

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
