package overlays

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/render"
)

// MismatchError says that kustomize builds an environment's overlay into
// something other than the objects envgen compiled: a bug in envgen's
// patches, never to be papered over.
type MismatchError struct {
	Env         string
	Differences []string
}

func (e *MismatchError) Error() string {
	const most = 8
	lines := e.Differences
	more := ""
	if len(lines) > most {
		more = fmt.Sprintf("\n  … and %d more", len(lines)-most)
		lines = lines[:most]
	}
	return fmt.Sprintf("kustomize builds overlays/%s into something other than envgen.cue says (a bug in envgen; please report it with your envgen.cue):\n  %s%s",
		e.Env, strings.Join(lines, "\n  "), more)
}

// Verify compares what kustomize built for env with the objects envgen
// meant. Lists merged by key (containers, env, volumes…) are compared
// element by element by key, then in their order; all else must be equal.
func Verify(env string, intended []manifests.Object, built []map[string]any) error {
	want := map[string]manifests.Object{}
	for _, obj := range intended {
		want[mapID(kindOf(obj), obj.GetName())] = obj
	}
	got := map[string]map[string]any{}
	for _, m := range built {
		meta, _ := m["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		kind, _ := m["kind"].(string)
		got[mapID(kind, name)] = m
	}
	var diffs []string
	for _, id := range sorted.UnionKeys(want, got) {
		obj, inWant := want[id]
		m, inGot := got[id]
		switch {
		case !inGot:
			diffs = append(diffs, id+": missing from kustomize's build")
		case !inWant:
			diffs = append(diffs, id+": built by kustomize, not meant by envgen")
		default:
			w, err := render.Manifest(obj)
			if err != nil {
				return err
			}
			g, err := jsonRoundTrip(m)
			if err != nil {
				return err
			}
			w, _ = jsonRoundTrip(w)
			meta, err := strategicpatch.NewPatchMetaFromStruct(obj)
			if err != nil {
				return err
			}
			diffs = append(diffs, differences(id+" ", w, g, meta)...)
		}
	}
	if len(diffs) > 0 {
		return &MismatchError{Env: env, Differences: diffs}
	}
	return nil
}

func kindOf(obj manifests.Object) string { return obj.GetObjectKind().GroupVersionKind().Kind }

func mapID(kind, name string) string { return kind + "/" + name }

func jsonRoundTrip(m map[string]any) (map[string]any, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(data, &out)
}

// differences lists the fields where got differs from want, as
// "Deployment/x spec.replicas: envgen 3, kustomize 2".
func differences(path string, want, got any, meta strategicpatch.LookupPatchMeta) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		var out []string
		for _, k := range sorted.UnionKeys(w, g) {
			if _, isList := w[k].([]any); isList && meta != nil {
				out = append(out, listDifferences(join(path, k), k, w[k], g[k], meta)...)
				continue
			}
			var sub strategicpatch.LookupPatchMeta // nil for plain maps (labels, data)
			if meta != nil {
				if m, _, err := meta.LookupPatchMetadataForStruct(k); err == nil {
					sub = m
				}
			}
			out = append(out, differences(join(path, k), w[k], g[k], sub)...)
		}
		return out
	}
	if reflect.DeepEqual(want, got) {
		return nil
	}
	return []string{fmt.Sprintf("%s: envgen %s, kustomize %s", path, show(want), show(got))}
}

// listDifferences compares a list field; lists merged by key are compared
// element by element, by key.
func listDifferences(path, field string, want, got any, meta strategicpatch.LookupPatchMeta) []string {
	w, _ := want.([]any)
	g, ok := got.([]any)
	sub, pm, err := meta.LookupPatchMetadataForSlice(field)
	if !ok || err != nil || pm.GetPatchMergeKey() == "" || !allMaps(w) || !allMaps(g) {
		return differences(path, want, got, nil)
	}
	key := pm.GetPatchMergeKey()
	byKey := func(list []any) map[string]any {
		out := map[string]any{}
		for _, v := range list {
			data, _ := json.Marshal(v.(map[string]any)[key])
			out[string(data)] = v
		}
		return out
	}
	wk, gk := byKey(w), byKey(g)
	if len(wk) != len(w) || len(gk) != len(g) {
		return differences(path, want, got, nil) // duplicate keys: compare in order
	}
	keys := sorted.UnionKeys(wk, gk)
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		out = append(out, differences(fmt.Sprintf("%s[%s=%s]", path, key, k), wk[k], gk[k], sub)...)
	}
	// The order is part of the meaning: env's $(VAR) references resolve
	// in it, init containers run in it, the first container is kubectl's
	// default.
	if len(out) == 0 {
		if wo, gotOrder := keyOrder(w, key), keyOrder(g, key); !slices.Equal(wo, gotOrder) {
			out = append(out, fmt.Sprintf("%s: envgen orders %s %v, kustomize %v", path, key, wo, gotOrder))
		}
	}
	return out
}

// keyOrder lists the merge keys of a list's elements in order.
func keyOrder(list []any, key string) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = fmt.Sprint(v.(map[string]any)[key])
	}
	return out
}

func join(path, key string) string {
	if strings.HasSuffix(path, " ") {
		return path + key
	}
	return path + "." + key
}

func show(v any) string {
	if v == nil {
		return "(absent)"
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	const most = 120
	if len(data) > most {
		return string(data[:most]) + "…"
	}
	return string(data)
}
