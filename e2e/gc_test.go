package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
