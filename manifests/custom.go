package manifests

import (
	"fmt"
	"maps"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"envgen.dev/envgen/model"
)

// customObject is one of envgen.cue's objects of a custom kind the
// organisation declares (customKinds): taken as it is, with its kind and
// name from the key and envgen's labels beside its own. What the kind's
// fields mean is its CRD's; the compiler checked them against the
// declared schema, if there is one.
func customObject(service, key string, kind model.CustomKind, data map[string]any) (Object, error) {
	kindName, name, _ := strings.Cut(key, "/")
	data = maps.Clone(data)
	if v, ok := data["kind"]; ok && v != kindName {
		return nil, &HatchError{Field: []string{"kind"}, Msg: fmt.Sprintf("the key says %s", kindName)}
	}
	data["kind"] = kindName
	meta, ok := data["metadata"].(map[string]any)
	if _, present := data["metadata"]; present && !ok {
		return nil, &HatchError{Field: []string{"metadata"}, Msg: "metadata is a struct"}
	}
	meta = maps.Clone(meta)
	if meta == nil {
		meta = map[string]any{}
	}
	for _, field := range []string{"labels", "annotations"} {
		if m, present := meta[field]; present {
			values, ok := m.(map[string]any)
			for _, v := range values {
				if _, isString := v.(string); !isString {
					ok = false
				}
			}
			if !ok {
				return nil, &HatchError{Field: []string{"metadata", field}, Msg: field + " map names to strings"}
			}
		}
	}
	for field, what := range map[string]string{"name": "the key names the object", "namespace": "the object lives in the namespace the overlay is applied to (a custom kind is namespaced)"} {
		if _, ok := meta[field]; ok {
			return nil, &HatchError{Field: []string{"metadata", field}, Msg: what}
		}
	}
	data["metadata"] = meta
	obj := &unstructured.Unstructured{Object: data}
	obj.SetName(name)
	l := obj.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	maps.Copy(l, labels(service, name, ComponentExtra))
	obj.SetLabels(l)
	return obj, nil
}
