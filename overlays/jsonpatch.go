package overlays

import (
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/render"
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

// jsonPatch returns the operations that turn parent into child, or nil
// when they are equal. Lists of named objects are patched element by
// element where the elements kept their order, each step into an element
// preceded by a `test` of its name: the reviewer reads which variable
// changes, and kustomize refuses the patch if the element at that index is
// another one (a parent changed under a hand-edited tree).
func jsonPatch(parent, child manifests.Object) ([]jsonOp, error) {
	p, err := render.Manifest(parent)
	if err != nil {
		return nil, err
	}
	c, err := render.Manifest(child)
	if err != nil {
		return nil, err
	}
	var ops []jsonOp
	diffMapOps(&ops, "", p, c)
	return ops, nil
}

var pointerEscape = strings.NewReplacer("~", "~0", "/", "~1")

func pointer(path, key string) string { return path + "/" + pointerEscape.Replace(key) }

func diffMapOps(ops *[]jsonOp, path string, parent, child map[string]any) {
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
			diffValueOps(ops, at, pv, cv)
		}
	}
}

func diffValueOps(ops *[]jsonOp, path string, pv, cv any) {
	switch c := cv.(type) {
	case map[string]any:
		if p, ok := pv.(map[string]any); ok {
			diffMapOps(ops, path, p, c)
			return
		}
	case []any:
		if p, ok := pv.([]any); ok && diffListOps(ops, path, p, c) {
			return
		}
	}
	*ops = append(*ops, jsonOp{"op": "replace", "path": path, "value": cv})
}

// diffListOps patches a list of named objects in place: removals from the
// end first, so that the indexes before them hold, then each child
// element at its index, added or patched. It returns false, having written
// nothing, when the list is not one of uniquely named objects or its
// common elements changed order: the caller replaces it whole.
func diffListOps(ops *[]jsonOp, path string, parent, child []any) bool {
	parentNames, ok := uniqueNames(parent)
	if !ok {
		return false
	}
	childNames, ok := uniqueNames(child)
	if !ok {
		return false
	}
	inChild := map[string]bool{}
	for _, n := range childNames {
		inChild[n] = true
	}
	parentAt := map[string]int{}
	var kept []string
	for i, n := range parentNames {
		parentAt[n] = i
		if inChild[n] {
			kept = append(kept, n)
		}
	}
	var common []string
	for _, n := range childNames {
		if _, ok := parentAt[n]; ok {
			common = append(common, n)
		}
	}
	if !slices.Equal(kept, common) {
		return false
	}
	for i := len(parent) - 1; i >= 0; i-- {
		if !inChild[parentNames[i]] {
			at := path + "/" + strconv.Itoa(i)
			*ops = append(*ops, testName(at, parentNames[i]), jsonOp{"op": "remove", "path": at})
		}
	}
	for i, n := range childNames {
		at := path + "/" + strconv.Itoa(i)
		j, inParent := parentAt[n]
		switch {
		case !inParent:
			*ops = append(*ops, jsonOp{"op": "add", "path": at, "value": child[i]})
		case !reflect.DeepEqual(parent[j], child[i]):
			*ops = append(*ops, testName(at, n))
			diffMapOps(ops, at, parent[j].(map[string]any), child[i].(map[string]any))
		}
	}
	return true
}

func testName(path, name string) jsonOp {
	return jsonOp{"op": "test", "path": path + "/name", "value": name}
}

// uniqueNames returns the name of every element, when each is an object
// with a name of its own.
func uniqueNames(list []any) ([]string, bool) {
	names := make([]string, len(list))
	seen := map[string]bool{}
	for i, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		name, ok := m["name"].(string)
		if !ok || seen[name] {
			return nil, false
		}
		seen[name] = true
		names[i] = name
	}
	return names, true
}

// patchTarget is the selector of a JSON patch in kustomization.yaml: a
// JSON patch does not name its object. kustomize reads each field as an
// anchored regular expression, so the object's own are quoted.
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
