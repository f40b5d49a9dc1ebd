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
		patch, err := strategicPatch(parentObj, withImages(obj, undo))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		if patch == nil {
			continue
		}
		// Encoded as it is, nulls included: null is how a strategic merge
		// patch says "delete this field".
		doc, err := yaml.Marshal(patch)
		if err != nil {
			return nil, err
		}
		o.files = append(o.files, overlayFile{name: objectFile(obj, ".patch.yaml"), doc: doc, patch: true})
	}
	for _, obj := range parent {
		if !seen[objectID(obj)] {
			o.files = append(o.files, overlayFile{name: objectFile(obj, ".delete.yaml"), doc: deletePatch(obj), patch: true})
		}
	}
	return o, nil
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
