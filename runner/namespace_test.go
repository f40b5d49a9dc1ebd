package runner

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

// leaseRun is a run in namespace ns of build "mine" whose Lease is held
// by holder, renewed every few milliseconds.
func leaseRun(t *testing.T, holder string) (*run, *lease, *dynamicfake.FakeDynamicClient) {
	t.Helper()
	saved := leaseRenewEvery
	leaseRenewEvery = 5 * time.Millisecond
	t.Cleanup(func() { leaseRenewEvery = saved })
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	ctx, end := context.WithCancelCause(context.Background())
	t.Cleanup(func() { end(nil) })
	r := &run{clients: Clients{Dynamic: client}, namespace: "ns", opts: Options{Service: "svc", BuildID: "mine", Timeout: time.Minute}, parent: context.Background(), ctx: ctx, end: end}
	obj := r.leaseObject(LeaseName("svc"), time.Now(), nil)
	_ = unstructured.SetNestedField(obj.Object, holder, "spec", "holderIdentity")
	if _, err := client.Resource(leasesResource).Namespace("ns").Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	renewCtx, stop := context.WithCancel(ctx)
	l := &lease{run: r, name: LeaseName("svc"), stop: stop, ended: make(chan struct{})}
	go l.renew(renewCtx)
	return r, l, client
}

// TestLeaseTakenOverEndsTheRun: a build whose Lease another build took
// over (after an outage longer than its duration) stops, with a cluster
// error that says why, instead of sharing the namespace's objects; and
// giving the turn back leaves the other build's Lease alone.
func TestLeaseTakenOverEndsTheRun(t *testing.T) {
	r, l, client := leaseRun(t, "other")
	select {
	case <-r.ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the run went on without its Lease")
	}
	err := r.classify(errors.New("the wait ended"))
	var cluster *ClusterError
	if !errors.As(err, &cluster) || !strings.Contains(err.Error(), "build other holds it now") {
		t.Fatalf("got %v, want a ClusterError naming the other build", err)
	}
	l.release(context.Background())
	if _, err := client.Resource(leasesResource).Namespace("ns").Get(context.Background(), l.name, metav1.GetOptions{}); err != nil {
		t.Fatalf("the other build's Lease was deleted: %v", err)
	}
}

// TestLeaseKeptWhileHeld: the build's own Lease is renewed, the run goes
// on, and release deletes it.
func TestLeaseKeptWhileHeld(t *testing.T) {
	r, l, client := leaseRun(t, "mine")
	time.Sleep(50 * time.Millisecond)
	if r.ctx.Err() != nil {
		t.Fatalf("the run ended while it held its Lease: %v", context.Cause(r.ctx))
	}
	l.release(context.Background())
	_, err := client.Resource(leasesResource).Namespace("ns").Get(context.Background(), l.name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("the Lease is still there after release: %v", err)
	}
}

// TestNamespaceDeleteOutlastsAnOutage: the cleanup's delete keeps trying
// through failures that are the connection's, not the API server's
// answer (seen as namespaces left behind by the soak test), and stops at
// once on an answer that does not pass.
func TestNamespaceDeleteOutlastsAnOutage(t *testing.T) {
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	failures := 0
	client.PrependReactor("delete", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		if failures < 5 {
			failures++
			return true, nil, errors.New("http2: server sent GOAWAY and closed the connection")
		}
		return true, nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := deleteNamespace(ctx, &Core{dyn: client}, "ns"); err != nil || failures != 5 {
		t.Fatalf("got %v after %d failures, want success after 5", err, failures)
	}

	forbidden := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	calls := 0
	forbidden.PrependReactor("delete", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		calls++
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "ns", errors.New("no"))
	})
	if err := deleteNamespace(ctx, &Core{dyn: forbidden}, "ns"); !apierrors.IsForbidden(err) || calls != 1 {
		t.Fatalf("got %v after %d calls, want forbidden at once", err, calls)
	}
}

// TestNamespaceNamesMatchTheBox: every name NamespaceName makes is one the
// box lets the CI account create (its pattern), long service names and
// odd build ids included.
func TestNamespaceNamesMatchTheBox(t *testing.T) {
	pattern := regexp.MustCompile(namespaceNamePattern)
	for _, tc := range [][2]string{
		{"svc", "1"}, {"citoid", "jenkins-citoid-pr-1234"}, {"a", ""}, {strings.Repeat("s", 40), strings.Repeat("B", 100)},
		{"svc", "--"}, {"x-y", "PR_42.3"}, {"svc", "ci"},
	} {
		if name := NamespaceName(tc[0], tc[1]); !pattern.MatchString(name) {
			t.Errorf("NamespaceName(%q, %q) = %q, which the box would refuse", tc[0], tc[1], name)
		}
	}
	if pattern.MatchString("payments-prod") || pattern.MatchString("kube-system") {
		t.Error("the box would let the account take another team's name")
	}
}
