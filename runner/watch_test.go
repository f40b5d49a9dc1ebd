package runner

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

func fakePodsClient() *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{podsResource: "PodList"})
}

func podList(names ...string) *unstructured.UnstructuredList {
	list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "PodList", "metadata": map[string]any{"resourceVersion": "1"}}}
	for _, n := range names {
		list.Items = append(list.Items, unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": n, "namespace": "ns"}}})
	}
	return list
}

// A Pod that vanished while the watch was down is reported as deleted by
// the next list: the build's watch must not wait for an event that the
// outage swallowed.
func TestWatchReportsAPodThatVanishedBetweenLists(t *testing.T) {
	client := fakePodsClient()
	lists := 0
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		lists++
		if lists == 1 {
			return true, podList("svc-ci-build"), nil
		}
		return true, podList(), nil
	})
	client.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		w := watch.NewFake()
		w.Stop() // the connection drops at once
		return true, w, nil
	})
	relistEvery = 10 * time.Millisecond
	defer func() { relistEvery = time.Second }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var deleted string
	err := watchPods(ctx, &Core{dyn: client}, "ns", "", "", func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			deleted = ev.Object.(*corev1.Pod).Name
			return true, nil
		}
		return false, nil
	})
	if err != nil || deleted != "svc-ci-build" {
		t.Fatalf("err %v, deleted %q; want svc-ci-build reported deleted", err, deleted)
	}
}

// Waiting does not change a refusal: forbidden ends the watch at once.
func TestWatchForbiddenFailsAtOnce(t *testing.T) {
	client := fakePodsClient()
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errFromString("no"))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := watchPods(ctx, &Core{dyn: client}, "ns", "", "", func(watch.Event) (bool, error) { return false, nil })
	var cluster *ClusterError
	if !errors.As(err, &cluster) || ctx.Err() != nil {
		t.Fatalf("got %v (context %v), want a ClusterError at once", err, ctx.Err())
	}
}
