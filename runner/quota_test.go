package runner

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestParseQuota(t *testing.T) {
	def := DefaultQuota()
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "", want: def.String()},
		{in: "cpu=4", want: "cpu=4,memory=16Gi,pods=20"},
		{in: "cpu=500m, memory=1Gi ,pods=3", want: "cpu=500m,memory=1Gi,pods=3"},
		{in: "pods=0", err: "want a positive whole number"},
		{in: "pods=1.5", err: "want a positive whole number"},
		{in: "cpu=-1", err: "want a positive quantity"},
		{in: "memory=lots", err: "want a positive quantity"},
		{in: "gpu=1", err: "a quota names cpu, memory and pods"},
		{in: "cpu", err: "is not name=value"},
	} {
		q, err := ParseQuota(tc.in, def)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseQuota(%q): %v, want an error with %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("ParseQuota(%q): %v", tc.in, err)
		case q.String() != tc.want:
			t.Errorf("ParseQuota(%q) = %s, want %s", tc.in, q, tc.want)
		}
	}
}

func TestCheckQuota(t *testing.T) {
	container := func(name string, requests, limits map[string]any) map[string]any {
		c := map[string]any{"name": name, "image": "registry.example.org/x:1"}
		res := map[string]any{}
		if requests != nil {
			res["requests"] = requests
		}
		if limits != nil {
			res["limits"] = limits
		}
		c["resources"] = res
		return c
	}
	pod := func(name string, containers ...any) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"containers": containers}}
	}
	deployment := func(name string, replicas int64, containers ...any) map[string]any {
		return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name},
			"spec": map[string]any{"replicas": replicas, "template": map[string]any{"spec": map[string]any{"containers": containers}}}}
	}
	quota := func(s string) Quota {
		q, err := ParseQuota(s, DefaultQuota())
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	objects := []map[string]any{
		deployment("db", 2, container("db", map[string]any{"cpu": "1", "memory": "1Gi"}, nil)),
		deployment("off", 0, container("big", map[string]any{"cpu": "100"}, nil)),
		// Two stages that never run together: the larger of each counts.
		pod("unit", container("build", map[string]any{"cpu": "3"}, map[string]any{"memory": "512Mi"})),
		pod("lint", container("build", nil, nil)),
	}
	// 2×1 + 3 cpu, 2Gi + 512Mi, 3 Pods.
	if err := CheckQuota(objects, quota("cpu=5,memory=2560Mi,pods=3")); err != nil {
		t.Errorf("fits exactly, refused: %v", err)
	}
	for _, tc := range []struct{ quota, over string }{
		{"cpu=4999m,memory=2560Mi,pods=3", "(cpu)"},
		{"cpu=5,memory=2559Mi,pods=3", "(memory)"},
		{"cpu=5,memory=2560Mi,pods=2", "(pods)"},
	} {
		err := CheckQuota(objects, quota(tc.quota))
		if err == nil || !strings.Contains(err.Error(), tc.over) || !strings.Contains(err.Error(), "cpu=5,memory=2560Mi,pods=3") {
			t.Errorf("quota %s: %v, want refused %s", tc.quota, err, tc.over)
		}
	}
	// A Deployment of 2³¹ replicas is refused without counting each.
	huge := []map[string]any{deployment("huge", 1<<31-1, container("c", map[string]any{"cpu": "64", "memory": "64Gi"}, nil))}
	if err := CheckQuota(huge, DefaultQuota()); err == nil || !strings.Contains(err.Error(), "2147483647 × (cpu 64, memory 64Gi)") {
		t.Errorf("2³¹ replicas: %v", err)
	}
}

func TestPodRequestsSidecarsAndInits(t *testing.T) {
	always := "Always"
	spec := map[string]any{
		"initContainers": []any{
			map[string]any{"name": "sidecar", "restartPolicy": always, "resources": map[string]any{"requests": map[string]any{"cpu": "200m"}}},
			map[string]any{"name": "migrate", "resources": map[string]any{"requests": map[string]any{"cpu": "2"}}},
		},
		"containers": []any{map[string]any{"name": "app", "resources": map[string]any{"limits": map[string]any{"cpu": "1"}}}},
	}
	p, err := fromUnstructured[corev1.PodSpec](spec)
	if err != nil {
		t.Fatal(err)
	}
	cpu, memory := podRequests(p)
	// The init container with the sidecar started before it (2.2) is more
	// than the app with the sidecar (1.2, the app's limit as its request);
	// memory: two defaults either way.
	if want := resource.MustParse("2200m"); cpu.Cmp(want) != 0 {
		t.Errorf("cpu %s, want %s", cpu.String(), want.String())
	}
	if want := resource.MustParse("256Mi"); memory.Cmp(want) != 0 {
		t.Errorf("memory %s, want %s", memory.String(), want.String())
	}
}
