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
func computeOverlay(parent, env []manifests.Object, asJSON map[string]bool) (*overlay, error) {
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
		f, err := patchFile(parentObj, withImages(obj, undo), asJSON[id])
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
// they are equal: a JSON patch when asJSON (see longListObjects), a
// strategic merge patch otherwise.
func patchFile(parent, child manifests.Object, asJSON bool) (*overlayFile, error) {
	p, err := render.Manifest(parent)
	if err != nil {
		return nil, err
	}
	c, err := render.Manifest(child)
	if err != nil {
		return nil, err
	}
	if asJSON {
		ops, err := jsonPatch(parent, p, c)
		if err != nil || len(ops) == 0 {
			return nil, err
		}
		doc, err := yaml.Marshal(ops)
		if err != nil {
			return nil, err
		}
		return &overlayFile{name: objectFile(child, ".jsonpatch.yaml"), doc: doc, patch: true, target: targetOf(parent)}, nil
	}
	patch, err := strategicPatch(parent, p, c)
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

// longListObjects returns the objects (by objectID) that hold a list of
// JSONPatchFrom objects or more in the base or in any environment: their
// patches are JSON patches in every overlay. Deciding per object for the
// whole tree, not per overlay, keeps one form for one object: a service
// crossing the length changes its patches once, all together, rather than
// some overlays' depending on what each environment adds.
func longListObjects(base []manifests.Object, envs []Environment) (map[string]bool, error) {
	long := map[string]bool{}
	check := func(objs []manifests.Object) error {
		for _, obj := range objs {
			id := objectID(obj)
			if long[id] {
				continue
			}
			m, err := render.Manifest(obj)
			if err != nil {
				return err
			}
			long[id] = prefersJSONPatch(m)
		}
		return nil
	}
	if err := check(base); err != nil {
		return nil, err
	}
	for _, env := range envs {
		if err := check(env.Objects); err != nil {
			return nil, err
		}
	}
	return long, nil
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
