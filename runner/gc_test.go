package runner

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"envgen.dev/envgen/manifests"
)

// TestBuildRunningUntilEveryBuildPodEnded: gc --older-than may take a
// build namespace only once as many build Pods as the run said it would
// make exist and all have ended — not while the run waits for its test
// services (no build Pod yet) or between stages (one ended, the next not
// made yet).
func TestBuildRunningUntilEveryBuildPodEnded(t *testing.T) {
	pod := func(name string, phase corev1.PodPhase) runtime.Object {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{manifests.LabelComponent: manifests.ComponentCIBuild}},
			Status:     corev1.PodStatus{Phase: phase},
		})
		if err != nil {
			t.Fatal(err)
		}
		return &unstructured.Unstructured{Object: u}
	}
	for _, tc := range []struct {
		name      string
		buildPods string // the annotation; "" for a namespace without it
		pods      []runtime.Object
		want      bool
	}{
		{"waiting for test services", "1", nil, true},
		{"between stages", "2", []runtime.Object{pod("a", corev1.PodSucceeded)}, true},
		{"a stage running", "2", []runtime.Object{pod("a", corev1.PodSucceeded), pod("b", corev1.PodRunning)}, true},
		{"every stage ended", "2", []runtime.Object{pod("a", corev1.PodSucceeded), pod("b", corev1.PodFailed)}, false},
		{"the build ended", "1", []runtime.Object{pod("a", corev1.PodFailed)}, false},
		{"an older envgen's namespace, no Pod", "", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
				map[schema.GroupVersionResource]string{podsResource: "PodList"}, tc.pods...)
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", Annotations: map[string]string{}}}
			if tc.buildPods != "" {
				ns.Annotations[BuildPodsAnnotation] = tc.buildPods
			}
			got, err := buildRunning(context.Background(), &Core{dyn: client}, ns)
			if err != nil || got != tc.want {
				t.Errorf("buildRunning = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// TestGCTakesWhatNoBuildOutlives: a build namespace older than any build
// runs is taken whatever its expiry annotation says (whoever holds the CI
// account's token can write one for the year 9999); a young one with that
// annotation is not.
func TestGCTakesWhatNoBuildOutlives(t *testing.T) {
	now := time.Now()
	namespace := func(name string, age time.Duration) runtime.Object {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&corev1.Namespace{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(now.Add(-age)),
				Labels:      map[string]string{ManagedByLabel: ManagedByValue},
				Annotations: map[string]string{ExpiresAnnotation: "9999-01-01T00:00:00Z", BuildPodsAnnotation: "1000"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return &unstructured.Unstructured{Object: u}
	}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{namespacesResource: "NamespaceList"},
		namespace("forged-old", 27*time.Hour), namespace("forged-young", time.Hour))
	result, err := GC(context.Background(), &Core{dyn: client}, GCOptions{DryRun: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(result.Expired) != 1 || result.Expired[0].Namespace != "forged-old" || result.Expired[0].Reason != "older than any build runs (26h0m0s)" {
		t.Errorf("expired %+v, want forged-old alone, older than any build runs", result.Expired)
	}
}
