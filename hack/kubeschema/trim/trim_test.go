package trim_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"envgen.dev/envgen/hack/kubeschema/trim"
	"envgen.dev/envgen/internal/kubetypes"
)

// TestEmbeddedSchemaIsCurrent: overlays/kubeschema.json is exactly what
// trimming this kustomize's built-in schema gives. After a kustomize
// upgrade: go run ./hack/kubeschema > overlays/kubeschema.json.
func TestEmbeddedSchemaIsCurrent(t *testing.T) {
	want, err := trim.Schema()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "..", "overlays", "kubeschema.json")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		if os.Getenv("ENVGEN_UPDATE") != "" {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("%s is stale: run go run ./hack/kubeschema > overlays/kubeschema.json (or ENVGEN_UPDATE=1)", path)
	}
}

// TestRootsCoverTheEscapeHatch: every kind envgen.cue's patches and
// objects may name is in the trimmed schema, so that envgen's kustomize
// merges it by the same keys as stock kustomize.
func TestRootsCoverTheEscapeHatch(t *testing.T) {
	for kind, k := range kubetypes.Kinds {
		found := false
		for _, root := range trim.Roots {
			found = found || strings.HasSuffix(root, "."+kind)
		}
		if !found {
			t.Errorf("%s (%s) is not among the Roots", kind, k.APIVersion)
		}
	}
}
