package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

func TestGCDeletesOnlyExpiredEnvgenNamespaces(t *testing.T) {
	ctx := context.Background()
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	namespaces := []struct {
		name    string
		labels  map[string]string
		expires string
		deleted bool
	}{
		{"gc-expired", map[string]string{runner.ManagedByLabel: runner.ManagedByValue}, past, true},
		{"gc-current", map[string]string{runner.ManagedByLabel: runner.ManagedByValue}, future, false},
		{"gc-foreign", map[string]string{"team": "search"}, past, false},
		{"gc-other-manager", map[string]string{runner.ManagedByLabel: "helm"}, past, false},
	}
	for _, n := range namespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: n.labels,
			Annotations: map[string]string{runner.ExpiresAnnotation: n.expires, runner.BuildIDAnnotation: n.name}}}
		if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		defer cluster.Client.CoreV1().Namespaces().Delete(ctx, n.name, metav1.DeleteOptions{})
	}

	dry := run(t, "gc", "--dry-run")
	wantCode(t, dry, 0)
	if dry.Stdout != "would delete gc-expired (build gc-expired, expired at "+past+")\n" {
		t.Errorf("dry run printed:\n%s", dry.Stdout)
	}
	if _, err := cluster.Client.CoreV1().Namespaces().Get(ctx, "gc-expired", metav1.GetOptions{}); err != nil {
		t.Fatalf("--dry-run deleted: %v", err)
	}

	r := run(t, "gc")
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.Stdout, "deleted gc-expired")
	namespaceGone(t, "gc-expired")
	for _, n := range namespaces[1:] {
		ns, err := cluster.Client.CoreV1().Namespaces().Get(ctx, n.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && ns.DeletionTimestamp != nil) {
			t.Errorf("gc deleted %s", n.name)
		}
	}

	// --older-than takes envgen namespaces that have not expired yet too,
	// but never one whose build still runs.
	dir := service(t, "gc-running", `annotations: "kwok.test/delay": "10s"`)
	done := make(chan result, 1)
	go func() { done <- run(t, "run", "--build-id", "gc-running-1", dir) }()
	running := runner.NamespaceName("gc-running", "gc-running-1")
	waitForRunningBuild(t, running, "gc-running-ci-build")
	time.Sleep(1100 * time.Millisecond)
	r = run(t, "gc", "--older-than", "1s")
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.Stdout, "deleted gc-current (build gc-current, older than 1s)")
	if strings.Contains(r.Stdout, running) {
		t.Errorf("gc --older-than deleted the namespace of a running build:\n%s", r.Stdout)
	}
	if ns, err := cluster.Client.CoreV1().Namespaces().Get(ctx, running, metav1.GetOptions{}); err != nil || ns.DeletionTimestamp != nil {
		t.Errorf("the running build's namespace: %v", err)
	}
	wantCode(t, <-done, 0)
}

// TestGCReportsAndClearsStalledDeletions: an envgen namespace whose
// deletion waits on a finalizer nobody will remove is reported by name
// with what the namespace controller says holds it (exit 1); with
// --clear-finalizers gc removes the finalizer and the namespace goes. The
// same in a namespace that is not envgen's is neither reported nor
// touched.
func TestGCReportsAndClearsStalledDeletions(t *testing.T) {
	ctx := context.Background()
	const finalizer = "example.org/hold"
	hold := func(namespace string, labels map[string]string) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: labels,
			Annotations: map[string]string{runner.BuildIDAnnotation: namespace}}}
		if _, err := cluster.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Namespace: namespace, Finalizers: []string{finalizer}}}
		if _, err := cluster.Client.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cluster.Client.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			// Whatever gc did, nothing is left held.
			_, _ = cluster.Client.CoreV1().ConfigMaps(namespace).Patch(ctx, "held", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		})
	}
	hold("gc-held", map[string]string{runner.ManagedByLabel: runner.ManagedByValue})
	hold("gc-held-foreign", map[string]string{"team": "search"})
	// Wait for exactly what gc reads: the controller's word on the
	// finalizer.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		ns, err := cluster.Client.CoreV1().Namespaces().Get(ctx, "gc-held", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(fmt.Sprint(ns.Status.Conditions), finalizer) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the namespace controller did not name the finalizer in 60s: %+v", ns.Status.Conditions)
		}
	}

	r := run(t, "gc", "--stalled-after", "1ms")
	wantCode(t, r, 1)
	wantContains(t, "stdout", r.Stdout, "stalled gc-held (build gc-held, deleting for ")
	wantContains(t, "stdout", r.Stdout, "Some content in the namespace has finalizers remaining: "+finalizer)
	wantContains(t, "stderr", r.Stderr, "stuck deleting for more than 1ms: envgen gc --clear-finalizers")
	if strings.Contains(r.Stdout, "gc-held-foreign") {
		t.Errorf("gc reported a namespace that is not envgen's:\n%s", r.Stdout)
	}
	// The default leaves a deletion five minutes before calling it stalled.
	if r := run(t, "gc", "--dry-run"); strings.Contains(r.Stdout, "gc-held") {
		t.Errorf("a deletion of seconds reported stalled:\n%s", r.Stdout)
	}

	r = run(t, "gc", "--stalled-after", "1ms", "--clear-finalizers")
	if r.Code == 125 {
		t.Fatalf("gc --clear-finalizers: %s", r.Stderr)
	}
	wantContains(t, "stdout", r.Stdout, "stalled gc-held ")
	wantContains(t, "stdout", r.Stdout, "  cleared finalizers of ConfigMap/held: "+finalizer+"\n")
	namespaceGone(t, "gc-held")
	cm, err := cluster.Client.CoreV1().ConfigMaps("gc-held-foreign").Get(ctx, "held", metav1.GetOptions{})
	if err != nil || len(cm.Finalizers) != 1 {
		t.Errorf("gc touched a namespace that is not envgen's: %v, %v", cm, err)
	}
}

// TestGCLeavesAStartingBuild: a build still waiting for its test services
// has no build Pod yet; gc --older-than leaves it (the run said how many
// build Pods it would make), and the run, ended, cleans up after itself.
func TestGCLeavesAStartingBuild(t *testing.T) {
	fillNode(t, "600") // the test service waits for capacity
	dir := service(t, "gc-starting", `services: db: {image: "registry.example.org/db", tag: "1", resources: requests: cpu: "600"}`)
	running := e2ekit.Start(t, envgen, cluster.Kubeconfig, "run", "--build-id", "starting-1", "--quota", "cpu=2k", "--schedule-grace", "5m", dir)
	ns := runner.NamespaceName("gc-starting", "starting-1")
	// Wait for exactly what gc reads: the namespace, and the test
	// service's Deployment the run waits on.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := cluster.Client.AppsV1().Deployments(ns).Get(context.Background(), "gc-starting-db", metav1.GetOptions{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the test service's Deployment never appeared\n%s", running.Stderr())
		}
	}
	r := run(t, "gc", "--older-than", "1ms")
	wantCode(t, r, 0)
	if strings.Contains(r.Stdout, ns) {
		t.Errorf("gc --older-than took a build waiting for its test services:\n%s", r.Stdout)
	}
	if got, err := cluster.Client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); err != nil || got.DeletionTimestamp != nil {
		t.Fatalf("the starting build's namespace: %v", err)
	}
	running.Signal(t, syscall.SIGTERM)
	wantCode(t, running.Wait(t, 30*time.Second), 143)
	namespaceGone(t, ns)
}

// TestAsActsAsAnotherAccount: --as impersonates, as kubectl's does, so an
// administrator can try the CI account's rights: an account without any
// cannot list namespaces (125, forbidden), the administrator can.
func TestAsActsAsAnotherAccount(t *testing.T) {
	wantCode(t, run(t, "gc", "--dry-run"), 0)
	r := run(t, "gc", "--dry-run", "--as", "system:serviceaccount:default:nobody")
	wantCode(t, r, 125)
	wantContains(t, "stderr", r.Stderr, "forbidden")
	wantContains(t, "stderr", r.Stderr, "system:serviceaccount:default:nobody")
}
