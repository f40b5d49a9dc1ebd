package runner

import (
	"context"
	"testing"

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
