package overlays

import (
	"encoding/json"
	"reflect"
	"slices"

	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/manifests"
)

// The strategic merge patches here are written for kustomize's merge
// (kyaml's merge2), not for kube-apiserver's, and each says exactly what
// changes between a parent object and the environment's:
//
//   - a field the environment no longer has is `null` (delete it), so a
//     probe that switches from httpGet to tcpSocket, or a variable from
//     value to valueFrom, never ends up with both;
//   - lists without a merge key (command, args, egress rules) are replaced
//     whole, as kustomize does with them anyway;
//   - lists merged by one key (containers and env by name, volumes,
//     volumeMounts) get one entry per added or changed element, preceded
//     by the unchanged elements before it as their key alone (kyaml puts
//     a patch's elements first: this keeps the order), and
//     `{name: X, $patch: delete}` per removed one;
//   - lists whose elements are identified by several keys (container and
//     Service ports: number and protocol), and keyed lists whose common
//     elements changed order, are replaced whole with a leading
//     `- $patch: replace`: kustomize's matching of partial keys is where
//     patches stop meaning what they say.
//
// Every overlay is then built with kustomize's own engine and compared with
// the objects envgen meant (see Verify), so a case these rules get wrong is
// an error, never a silently different cluster.

// patchDirective is the strategic merge patch directive key.
const patchDirective = "$patch"

// multiKeyLists are the lists Kubernetes identifies by more than their
// patch merge key (x-kubernetes-list-map-keys): kyaml merges them by every
// key, and matches patch elements that lack one in ways that are easy to
// get wrong, so they are only ever replaced whole.
// TestMultiKeyListsAreTheSchemas keeps this equal to the schema. The
// differential test found topologySpreadConstraints: a spread dropped in
// an environment was kept by kustomize.
var multiKeyLists = map[string]bool{"ports": true, "topologySpreadConstraints": true}

// strategicPatch returns the patch from parent to child (rendered as p
// and c), with the fields kustomize needs to find its target, or nil when
// they are equal.
func strategicPatch(parent manifests.Object, p, c map[string]any) (map[string]any, error) {
	meta, err := strategicpatch.NewPatchMetaFromStruct(parent)
	if err != nil {
		return nil, err
	}
	patch := diffMap(p, c, meta)
	if len(patch) == 0 {
		return nil, nil
	}
	gvk := parent.GetObjectKind().GroupVersionKind()
	patch["apiVersion"] = gvk.GroupVersion().String()
	patch["kind"] = gvk.Kind
	metadata, _ := patch["metadata"].(map[string]any)
	if metadata == nil {
		metadata = map[string]any{}
	}
	metadata["name"] = parent.GetName()
	patch["metadata"] = metadata
	return patch, nil
}

// diffMap returns the patch that turns parent into child. meta describes
// the struct the maps encode; it is nil for plain maps (labels, data).
func diffMap(parent, child map[string]any, meta strategicpatch.LookupPatchMeta) map[string]any {
	out := map[string]any{}
	for _, key := range sorted.UnionKeys(parent, child) {
		pv, inParent := parent[key]
		cv, inChild := child[key]
		switch {
		case !inChild:
			out[key] = nil
		case !inParent:
			out[key] = cv
		case reflect.DeepEqual(pv, cv):
		default:
			if d, ok := diffValue(key, pv, cv, meta); ok {
				out[key] = d
			}
		}
	}
	return out
}

// diffValue returns the patch of one field whose value differs, and false
// when nothing needs saying.
func diffValue(key string, pv, cv any, meta strategicpatch.LookupPatchMeta) (any, bool) {
	switch c := cv.(type) {
	case map[string]any:
		p, ok := pv.(map[string]any)
		if !ok {
			return cv, true
		}
		if len(c) == 0 {
			// An empty map (emptyDir: {}) cannot be said as a merge: a
			// merge of {} changes nothing, and nulling every field makes
			// kyaml drop the emptied map itself. Replace it whole.
			return map[string]any{patchDirective: "replace"}, true
		}
		var sub strategicpatch.LookupPatchMeta
		if meta != nil {
			if m, _, err := meta.LookupPatchMetadataForStruct(key); err == nil {
				sub = m
			}
		}
		d := diffMap(p, c, sub)
		return d, len(d) > 0
	case []any:
		p, ok := pv.([]any)
		if !ok || meta == nil {
			return cv, true
		}
		sub, pm, err := meta.LookupPatchMetadataForSlice(key)
		if err != nil || pm.GetPatchMergeKey() == "" || !allMaps(p) || !allMaps(c) {
			return cv, true // an atomic list: kustomize replaces it whole
		}
		if multiKeyLists[key] {
			return replaceList(c), true
		}
		return diffKeyedList(p, c, pm.GetPatchMergeKey(), sub), true
	}
	return cv, true
}

// diffKeyedList patches a list merged by one key element by element, or
// replaces it whole when the elements both have changed order.
func diffKeyedList(parent, child []any, mergeKey string, meta strategicpatch.LookupPatchMeta) any {
	keyOf := func(v any) string {
		data, _ := json.Marshal(v.(map[string]any)[mergeKey])
		return string(data)
	}
	parentByKey := map[string]map[string]any{}
	var parentOrder []string
	for _, v := range parent {
		parentByKey[keyOf(v)] = v.(map[string]any)
		parentOrder = append(parentOrder, keyOf(v))
	}
	childKeys := map[string]bool{}
	var common []string
	for _, v := range child {
		k := keyOf(v)
		if childKeys[k] {
			return replaceList(child) // duplicate keys: no merge can say it
		}
		childKeys[k] = true
		if _, ok := parentByKey[k]; ok {
			common = append(common, k)
		}
	}
	var parentCommon []string
	for _, k := range parentOrder {
		if childKeys[k] {
			parentCommon = append(parentCommon, k)
		}
	}
	if !slices.Equal(common, parentCommon) {
		return replaceList(child)
	}
	// kyaml's merge puts the patch's elements first, in the patch's order,
	// and the target's other elements after them, in theirs. So the patch
	// lists the child's elements up to the last one that is new or
	// changed — those in between by their key alone, which changes nothing
	// but their place — and the rest follow as they were. Without that, a
	// changed variable moved to the front of env (where $(VAR) references
	// resolve in order) and a changed init container ran first.
	var out []any
	last := -1
	for i, v := range child {
		c := v.(map[string]any)
		p, ok := parentByKey[keyOf(v)]
		switch {
		case !ok:
			out = append(out, c)
			last = i
		default:
			d := diffMap(p, c, meta)
			if len(d) > 0 {
				last = i
			}
			d[mergeKey] = c[mergeKey]
			out = append(out, d)
		}
	}
	out = out[:last+1]
	for _, k := range parentOrder {
		if !childKeys[k] {
			out = append(out, map[string]any{mergeKey: parentByKey[k][mergeKey], patchDirective: "delete"})
		}
	}
	return out
}

// replaceList is a keyed list that replaces its target whole: kyaml reads
// a leading `- $patch: replace` element only in lists it merges by key.
func replaceList(list []any) []any {
	return append([]any{map[string]any{patchDirective: "replace"}}, list...)
}

func allMaps(list []any) bool {
	for _, v := range list {
		if _, ok := v.(map[string]any); !ok {
			return false
		}
	}
	return true
}
