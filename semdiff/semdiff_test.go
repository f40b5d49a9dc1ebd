package semdiff

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNamedListInsertionIsOneChange(t *testing.T) {
	obj := func(env ...any) map[string]any {
		return map[string]any{"kind": "Deployment", "metadata": map[string]any{"name": "svc"},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "svc", "env": env}}}}
	}
	a := map[string]any{"name": "A", "value": "1"}
	b := map[string]any{"name": "B", "value": "2"}
	b2 := map[string]any{"name": "B", "value": "3"}
	got := Objects("ci", []map[string]any{obj(a, b)}, []map[string]any{obj(map[string]any{"name": "NEW", "value": "0"}, a, b2)})
	want := []Change{
		{Environment: "ci", Object: "Deployment/svc", Kind: "added", Path: "spec.containers[name=svc].env[name=NEW]", New: map[string]any{"name": "NEW", "value": "0"}},
		{Environment: "ci", Object: "Deployment/svc", Kind: "changed", Path: "spec.containers[name=svc].env[name=B].value", Old: "2", New: "3"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestKeyOrderIsNotAChange(t *testing.T) {
	x := map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": "c"}, "data": map[string]any{"a": "1", "b": "2"}}
	y := map[string]any{"data": map[string]any{"b": "2", "a": "1"}, "metadata": map[string]any{"name": "c"}, "kind": "ConfigMap"}
	if got := Objects("ci", []map[string]any{x}, []map[string]any{y}); len(got) != 0 {
		t.Errorf("got %v", got)
	}
}
