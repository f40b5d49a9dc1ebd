package overlays

import (
	"bytes"
	"fmt"

	"sigs.k8s.io/yaml"

	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/render"
)

// overlay is what one environment's overlay directory holds besides its
// kustomization's resources line for the parent.
type overlay struct {
	images imageList
	files  []overlayFile
}

type overlayFile struct {
	name  string
	doc   []byte
	patch bool
	// target selects a JSON patch's object; nil for the others, which
	// name theirs.
	target *patchTarget
}

// computeOverlay returns what turns the parent's objects (the base's, or
// those of the environment this one extends) into env.
func computeOverlay(parent, env []manifests.Object) (*overlay, error) {
	o := &overlay{images: imageOverrides(parent, env)}
	undo := o.images.undo()

	parentByID := map[string]manifests.Object{}
	for _, obj := range parent {
		parentByID[objectID(obj)] = obj
	}
	seen := map[string]bool{}
	for _, obj := range env {
		id := objectID(obj)
		seen[id] = true
		parentObj, inParent := parentByID[id]
		if !inParent {
			doc, err := render.YAMLDocument(obj)
			if err != nil {
				return nil, err
			}
			o.files = append(o.files, overlayFile{name: objectFile(obj, ".yaml"), doc: doc})
			continue
		}
		f, err := patchFile(parentObj, withImages(obj, undo))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		if f != nil {
			o.files = append(o.files, *f)
		}
	}
	for _, obj := range parent {
		if !seen[objectID(obj)] {
			o.files = append(o.files, overlayFile{name: objectFile(obj, ".delete.yaml"), doc: deletePatch(obj), patch: true})
		}
	}
	return o, nil
}

// patchFile returns the patch that turns parent into child, or nil when
// they are equal: a JSON patch for an object with a long list of objects
// (see JSONPatchFrom), a strategic merge patch for the others.
func patchFile(parent, child manifests.Object) (*overlayFile, error) {
	long, err := hasLongList(parent, child)
	if err != nil {
		return nil, err
	}
	if long {
		ops, err := jsonPatch(parent, child)
		if err != nil || len(ops) == 0 {
			return nil, err
		}
		doc, err := yaml.Marshal(ops)
		if err != nil {
			return nil, err
		}
		return &overlayFile{name: objectFile(child, ".jsonpatch.yaml"), doc: doc, patch: true, target: targetOf(parent)}, nil
	}
	patch, err := strategicPatch(parent, child)
	if err != nil || patch == nil {
		return nil, err
	}
	// Encoded as it is, nulls included: null is how a strategic merge
	// patch says "delete this field".
	doc, err := yaml.Marshal(patch)
	if err != nil {
		return nil, err
	}
	return &overlayFile{name: objectFile(child, ".patch.yaml"), doc: doc, patch: true}, nil
}

// hasLongList reports whether either object holds a list of objects of
// JSONPatchFrom or more: kustomize's strategic merge walks the lists of
// both.
func hasLongList(objs ...manifests.Object) (bool, error) {
	for _, obj := range objs {
		m, err := render.Manifest(obj)
		if err != nil {
			return false, err
		}
		if prefersJSONPatch(m) {
			return true, nil
		}
	}
	return false, nil
}

func objectID(obj manifests.Object) string {
	return manifests.GVK(obj).String() + "/" + obj.GetName()
}

func deletePatch(obj manifests.Object) []byte {
	gvk := obj.GetObjectKind().GroupVersionKind()
	var b bytes.Buffer
	fmt.Fprintf(&b, "$patch: delete\napiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n", gvk.GroupVersion(), gvk.Kind, obj.GetName())
	return b.Bytes()
}
