package overlays

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The lists kustomize's schema identifies by more than one key, merged by
// key, are exactly multiKeyLists: a new one (the schema grows with the
// kinds and fields envgen emits) must be replaced whole too.
func TestMultiKeyListsAreTheSchemas(t *testing.T) {
	data, err := os.ReadFile("kubeschema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema any
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for name, p := range props {
					field, _ := p.(map[string]any)
					keys, _ := field["x-kubernetes-list-map-keys"].([]any)
					if len(keys) > 1 && field["x-kubernetes-patch-merge-key"] != nil {
						found[name] = true
					}
				}
			}
			for _, child := range v {
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(schema)
	if diff := cmp.Diff(found, multiKeyLists); diff != "" {
		t.Errorf("multiKeyLists differ from the schema's multi-key lists (-schema +multiKeyLists):\n%s", diff)
	}
}
