package overlays

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/render"
)

// overlay is what one environment's overlay directory holds, and the
// objects kustomize builds from it.
type overlay struct {
	images   imageList
	files    []overlayFile
	rendered []map[string]any
}

type overlayFile struct {
	name  string
	doc   []byte
	patch bool
}

func computeOverlay(base, env []manifests.Object) (*overlay, error) {
	o := &overlay{images: imageOverrides(base, env)}
	undo := o.images.undo()

	baseByID := map[string]manifests.Object{}
	for _, obj := range base {
		baseByID[objectID(obj)] = obj
	}
	seen := map[string]bool{}
	for _, obj := range env {
		id := objectID(obj)
		seen[id] = true
		rendered, err := render.Manifest(obj)
		if err != nil {
			return nil, err
		}
		baseObj, inBase := baseByID[id]
		if !inBase {
			doc, err := render.YAMLDocument(obj)
			if err != nil {
				return nil, err
			}
			o.files = append(o.files, overlayFile{name: objectFile(obj, ".yaml"), doc: doc})
			o.rendered = append(o.rendered, rendered)
			continue
		}
		patch, err := strategicPatch(baseObj, withImages(obj, undo))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		if patch != nil {
			doc, err := render.YAMLDocument(patch)
			if err != nil {
				return nil, err
			}
			o.files = append(o.files, overlayFile{name: objectFile(obj, ".patch.yaml"), doc: doc, patch: true})
			if err := applyPatchOrder(rendered, patch, obj); err != nil {
				return nil, fmt.Errorf("%s: %w", id, err)
			}
		}
		o.rendered = append(o.rendered, rendered)
	}
	for _, obj := range base {
		if !seen[objectID(obj)] {
			o.files = append(o.files, overlayFile{name: objectFile(obj, ".delete.yaml"), doc: deletePatch(obj), patch: true})
		}
	}
	return o, nil
}

func objectID(obj manifests.Object) string {
	return manifests.GVK(obj).String() + "/" + obj.GetName()
}

// strategicPatch returns the strategic merge patch from base to env, with
// the fields kustomize needs to find its target, or nil when they are equal.
func strategicPatch(base, env manifests.Object) (map[string]any, error) {
	baseJSON, err := cleanJSON(base)
	if err != nil {
		return nil, err
	}
	envJSON, err := cleanJSON(env)
	if err != nil {
		return nil, err
	}
	patchJSON, err := strategicpatch.CreateTwoWayMergePatch(baseJSON, envJSON, base)
	if err != nil {
		return nil, err
	}
	var patch map[string]any
	if err := json.Unmarshal(patchJSON, &patch); err != nil {
		return nil, err
	}
	dropOrderDirectives(patch)
	if len(patch) == 0 {
		return nil, nil
	}
	gvk := base.GetObjectKind().GroupVersionKind()
	patch["apiVersion"] = gvk.GroupVersion().String()
	patch["kind"] = gvk.Kind
	meta, _ := patch["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["name"] = base.GetName()
	patch["metadata"] = meta
	return patch, nil
}

func cleanJSON(obj manifests.Object) ([]byte, error) {
	m, err := render.Manifest(obj)
	if err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// dropOrderDirectives removes $setElementOrder directives: kustomize does
// not read them, and they would be noise in review. applyPatchOrder gives
// envgen's own rendering the order kustomize produces without them.
func dropOrderDirectives(m map[string]any) {
	for k, v := range m {
		if strings.HasPrefix(k, "$setElementOrder/") {
			delete(m, k)
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			dropOrderDirectives(v)
			if len(v) == 0 {
				delete(m, k)
			}
		case []any:
			for _, item := range v {
				if im, ok := item.(map[string]any); ok {
					dropOrderDirectives(im)
				}
			}
		}
	}
}

// applyPatchOrder reorders the merged lists of rendered the way kustomize's
// strategic merge does: the elements the patch names come first, in patch
// order, then the base's other elements in their order.
func applyPatchOrder(rendered, patch map[string]any, typed manifests.Object) error {
	meta, err := strategicpatch.NewPatchMetaFromStruct(typed)
	if err != nil {
		return err
	}
	return reorder(rendered, patch, meta)
}

func reorder(obj, patch map[string]any, meta strategicpatch.LookupPatchMeta) error {
	for key, patchValue := range patch {
		if strings.HasPrefix(key, "$") {
			continue
		}
		switch pv := patchValue.(type) {
		case map[string]any:
			ov, ok := obj[key].(map[string]any)
			if !ok {
				continue
			}
			sub, _, err := meta.LookupPatchMetadataForStruct(key)
			if err != nil {
				continue // not a struct field (a map such as labels)
			}
			if err := reorder(ov, pv, sub); err != nil {
				return err
			}
		case []any:
			ov, ok := obj[key].([]any)
			if !ok {
				continue
			}
			sub, pm, err := meta.LookupPatchMetadataForSlice(key)
			if err != nil || pm.GetPatchMergeKey() == "" {
				continue // an atomic list: replaced whole, in its own order
			}
			ordered, err := reorderList(ov, pv, pm.GetPatchMergeKey(), sub)
			if err != nil {
				return err
			}
			obj[key] = ordered
		}
	}
	return nil
}

func reorderList(list, patchList []any, mergeKey string, meta strategicpatch.LookupPatchMeta) ([]any, error) {
	keyOf := func(v any) string {
		m, _ := v.(map[string]any)
		data, _ := json.Marshal(m[mergeKey])
		return string(data)
	}
	byKey := map[string]map[string]any{}
	for _, item := range list {
		if m, ok := item.(map[string]any); ok {
			byKey[keyOf(item)] = m
		}
	}
	out := make([]any, 0, len(list))
	taken := map[string]bool{}
	for _, p := range patchList {
		k := keyOf(p)
		item, ok := byKey[k]
		if !ok || taken[k] {
			continue
		}
		if pm, ok := p.(map[string]any); ok {
			if err := reorder(item, pm, meta); err != nil {
				return nil, err
			}
		}
		taken[k] = true
		out = append(out, item)
	}
	for _, item := range list {
		if !taken[keyOf(item)] {
			out = append(out, item)
		}
	}
	return out, nil
}

func deletePatch(obj manifests.Object) []byte {
	gvk := obj.GetObjectKind().GroupVersionKind()
	var b bytes.Buffer
	fmt.Fprintf(&b, "$patch: delete\napiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n", gvk.GroupVersion(), gvk.Kind, obj.GetName())
	return b.Bytes()
}
