package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"
)

// emptyNoise are keys whose empty value a typed object always marshals but
// that mean nothing when empty. Other empty maps (emptyDir: {}, an
// all-matching podSelector: {}) are meaningful and stay.
var emptyNoise = map[string]bool{"status": true, "strategy": true, "resources": true}

// Manifest returns obj (a typed object or anything JSON-marshalable) as a
// plain map without marshalling noise.
func Manifest(obj any) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	clean(m)
	// envgen describes desired state; status is the cluster's to fill in.
	delete(m, "status")
	return m, nil
}

func clean(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			clean(v)
			if len(v) == 0 && emptyNoise[k] {
				delete(m, k)
			}
		case []any:
			for _, item := range v {
				if im, ok := item.(map[string]any); ok {
					clean(im)
				}
			}
		}
	}
}

// YAMLDocument encodes one object as a YAML document with sorted keys.
func YAMLDocument(obj any) ([]byte, error) {
	m, err := Manifest(obj)
	if err != nil {
		return nil, err
	}
	return yaml.Marshal(m)
}

// YAML writes objects as a multi-document YAML stream, as kustomize does.
func YAML[T any](w io.Writer, objs []T) error {
	var buf bytes.Buffer
	for i, obj := range objs {
		doc, err := YAMLDocument(obj)
		if err != nil {
			return fmt.Errorf("encoding object %d: %w", i, err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(doc)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// JSON writes objects as one indented v1 List, as kubectl get -o json does.
func JSON[T any](w io.Writer, objs []T) error {
	items := make([]any, 0, len(objs))
	for i, obj := range objs {
		m, err := Manifest(obj)
		if err != nil {
			return fmt.Errorf("encoding object %d: %w", i, err)
		}
		items = append(items, m)
	}
	data, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}
