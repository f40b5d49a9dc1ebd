package runner

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

// The apiserver refuses Pods until the namespace's default ServiceAccount
// exists; the build Pod's apply waits that out, and only that.
func TestApplyBuildPodWaitsForTheDefaultServiceAccount(t *testing.T) {
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	refusals := 2
	client.PrependReactor("patch", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if refusals > 0 {
			refusals--
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "svc-ci-build",
				errFromString(`error looking up service account ns/default: serviceaccount "default" not found`))
		}
		return true, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "svc-ci-build"}}}, nil
	})
	pod := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "svc-ci-build"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := applyBuildPod(ctx, Clients{Dynamic: client}, "ns", pod, nil); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if refusals != 0 {
		t.Errorf("%d refusals left", refusals)
	}

	// Any other refusal is final.
	client.PrependReactor("patch", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "svc-ci-build", errFromString("violates PodSecurity"))
	})
	if err := applyBuildPod(ctx, Clients{Dynamic: client}, "ns", pod, nil); err == nil || ctx.Err() != nil {
		t.Fatalf("got %v (context %v), want the refusal at once", err, ctx.Err())
	}
}

type errFromString string

func (e errFromString) Error() string { return string(e) }
