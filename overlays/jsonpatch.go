package overlays

import (
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/manifests"
)

// JSONPatchFrom is the length of a list of objects (env, volumes,
// containers) from which an object's patches are JSON patches (RFC 6902)
// instead of strategic merge patches.
//
// Why: kustomize's strategic merge (kyaml's walk) matches the elements of
// every list of objects it meets, in the patch or only in the target, by
// scanning the list for each element — its cost is the square of the
// list's length, for any patch of the object. A Deployment with 500
// variables cost 0.4 s per overlay to build whatever its patch changed,
// for envgen's check and for every user's `kustomize build` alike. A JSON
// patch is applied in one pass over the object. Below this length the
// strategic merge patch, which names what it changes, is kept: it reads
// better in review, and its cost is a few milliseconds.
//
// 0 makes every patch a JSON patch: the differential test sets it for
// half of its cases, so that both forms are proven against kustomize on
// every kind of object.
var JSONPatchFrom = 64

// prefersJSONPatch reports whether an object's patches should be JSON
// patches: it holds a list of objects at least JSONPatchFrom long.
func prefersJSONPatch(v any) bool {
	if JSONPatchFrom <= 0 {
		return true
	}
	switch v := v.(type) {
	case map[string]any:
		for _, child := range v {
			if prefersJSONPatch(child) {
				return true
			}
		}
	case []any:
		if len(v) >= JSONPatchFrom && allMaps(v) {
			return true
		}
		for _, child := range v {
			if prefersJSONPatch(child) {
				return true
			}
		}
	}
	return false
}

// jsonOp is one RFC 6902 operation. Its fields are written in this order
// (op, path, value), which is also their alphabetical one.
type jsonOp map[string]any

// jsonPatch returns the operations that turn parent into child (rendered
// as p and c), or nil when they are equal. Lists of objects are patched
// element by element where their elements, identified by the list's merge
// key (name, mountPath, containerPort…), kept their order; each step into
// an element, or its removal, is preceded by a `test` of its key: the
// reviewer reads which variable changes, and kustomize refuses the patch
// if a hand-edited parent put another element at that index. (An element
// added at an index has no test: nothing is there to name.)
func jsonPatch(parent manifests.Object, p, c map[string]any) ([]jsonOp, error) {
	meta, err := strategicpatch.NewPatchMetaFromStruct(parent)
	if err != nil {
		return nil, err
	}
	var ops []jsonOp
	diffMapOps(&ops, "", p, c, meta)
	return ops, nil
}

var pointerEscape = strings.NewReplacer("~", "~0", "/", "~1")

func pointer(path, key string) string { return path + "/" + pointerEscape.Replace(key) }

// diffMapOps patches the map at path. meta describes the struct the map
// encodes; nil for plain maps (labels, data) and custom kinds.
func diffMapOps(ops *[]jsonOp, path string, parent, child map[string]any, meta strategicpatch.LookupPatchMeta) {
	for _, key := range sorted.UnionKeys(parent, child) {
		pv, inParent := parent[key]
		cv, inChild := child[key]
		at := pointer(path, key)
		switch {
		case !inChild:
			*ops = append(*ops, jsonOp{"op": "remove", "path": at})
		case !inParent:
			*ops = append(*ops, jsonOp{"op": "add", "path": at, "value": cv})
		case !reflect.DeepEqual(pv, cv):
			diffValueOps(ops, at, key, pv, cv, meta)
		}
	}
}

func diffValueOps(ops *[]jsonOp, path, key string, pv, cv any, meta strategicpatch.LookupPatchMeta) {
	switch c := cv.(type) {
	case map[string]any:
		if p, ok := pv.(map[string]any); ok {
			var sub strategicpatch.LookupPatchMeta
			if meta != nil {
				if m, _, err := meta.LookupPatchMetadataForStruct(key); err == nil {
					sub = m
				}
			}
			diffMapOps(ops, path, p, c, sub)
			return
		}
	case []any:
		p, ok := pv.([]any)
		if !ok {
			break
		}
		mergeKey, sub := "name", strategicpatch.LookupPatchMeta(nil)
		if meta != nil {
			if m, pm, err := meta.LookupPatchMetadataForSlice(key); err == nil {
				sub = m
				if k := pm.GetPatchMergeKey(); k != "" {
					mergeKey = k
				}
			}
		}
		if diffListOps(ops, path, p, c, mergeKey, sub) {
			return
		}
	}
	*ops = append(*ops, jsonOp{"op": "replace", "path": path, "value": cv})
}

// diffListOps patches a list of objects in place: removals from the end
// first, so that the indexes before them hold, then each child element at
// its index, added or patched. It returns false, having written nothing,
// when the list is not one of objects with unique values of mergeKey, the
// parent's is empty, or its common elements changed order: the caller
// replaces it whole.
func diffListOps(ops *[]jsonOp, path string, parent, child []any, mergeKey string, meta strategicpatch.LookupPatchMeta) bool {
	parentKeys, ok := uniqueKeys(parent, mergeKey)
	if !ok || len(parent) == 0 {
		return false
	}
	childKeys, ok := uniqueKeys(child, mergeKey)
	if !ok {
		return false
	}
	inChild := map[string]bool{}
	for _, k := range childKeys {
		inChild[k] = true
	}
	parentAt := map[string]int{}
	var kept []string
	for i, k := range parentKeys {
		parentAt[k] = i
		if inChild[k] {
			kept = append(kept, k)
		}
	}
	var common []string
	for _, k := range childKeys {
		if _, ok := parentAt[k]; ok {
			common = append(common, k)
		}
	}
	if !slices.Equal(kept, common) {
		return false
	}
	keyTest := func(at string, elem any) jsonOp {
		return jsonOp{"op": "test", "path": pointer(at, mergeKey), "value": elem.(map[string]any)[mergeKey]}
	}
	for i := len(parent) - 1; i >= 0; i-- {
		if !inChild[parentKeys[i]] {
			at := path + "/" + strconv.Itoa(i)
			*ops = append(*ops, keyTest(at, parent[i]), jsonOp{"op": "remove", "path": at})
		}
	}
	for i, k := range childKeys {
		at := path + "/" + strconv.Itoa(i)
		j, inParent := parentAt[k]
		switch {
		case !inParent:
			*ops = append(*ops, jsonOp{"op": "add", "path": at, "value": child[i]})
		case !reflect.DeepEqual(parent[j], child[i]):
			*ops = append(*ops, keyTest(at, child[i]))
			diffMapOps(ops, at, parent[j].(map[string]any), child[i].(map[string]any), meta)
		}
	}
	return true
}

// uniqueKeys returns each element's value of key, JSON-encoded, when every
// element is an object with a value of its own.
func uniqueKeys(list []any, key string) ([]string, bool) {
	keys := make([]string, len(list))
	seen := map[string]bool{}
	for i, v := range list {
		m, ok := v.(map[string]any)
		if !ok || m[key] == nil {
			return nil, false
		}
		data, err := json.Marshal(m[key])
		if err != nil || seen[string(data)] {
			return nil, false
		}
		seen[string(data)] = true
		keys[i] = string(data)
	}
	return keys, true
}

// patchTarget is the selector of a JSON patch in kustomization.yaml: a
// JSON patch does not name its object. kustomize reads each field as an
// anchored regular expression, so the object's own are quoted. A core
// kind's empty group is left out, which kustomize reads as any group: the
// kind and name still select one object, since an environment never has
// two objects of one kind and name (manifests.ApplyEscapeHatch refuses
// the clash).
type patchTarget struct {
	group, version, kind, name string
}

func targetOf(obj manifests.Object) *patchTarget {
	gvk := obj.GetObjectKind().GroupVersionKind()
	return &patchTarget{
		group:   regexp.QuoteMeta(gvk.Group),
		version: regexp.QuoteMeta(gvk.Version),
		kind:    regexp.QuoteMeta(gvk.Kind),
		name:    regexp.QuoteMeta(obj.GetName()),
	}
}
