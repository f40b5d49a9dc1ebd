package realnode

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// findInRegistry looks for needle in everything ref reaches in the
// registry: its manifest, the manifests an index lists, every config and
// layer blob, compressed and not. It returns where it was found, or "".
func findInRegistry(t *testing.T, ref, needle string) string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var visit func(manifest []byte) string
	blob := func(digest string) []byte {
		layer, err := remote.Layer(r.Context().Digest(digest))
		if err != nil {
			t.Fatalf("blob %s: %v", digest, err)
		}
		rc, err := layer.Compressed()
		if err != nil {
			t.Fatalf("blob %s: %v", digest, err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("blob %s: %v", digest, err)
		}
		return data
	}
	visit = func(manifest []byte) string {
		if bytes.Contains(manifest, []byte(needle)) {
			return "a manifest"
		}
		var m struct {
			Config    *struct{ Digest string }
			Layers    []struct{ Digest string }
			Manifests []struct{ Digest string }
		}
		if err := json.Unmarshal(manifest, &m); err != nil {
			t.Fatalf("manifest: %v", err)
		}
		for _, child := range m.Manifests {
			desc, err := remote.Get(r.Context().Digest(child.Digest))
			if err != nil {
				t.Fatalf("manifest %s: %v", child.Digest, err)
			}
			if where := visit(desc.Manifest); where != "" {
				return where
			}
		}
		digests := []string{}
		if m.Config != nil {
			digests = append(digests, m.Config.Digest)
		}
		for _, l := range m.Layers {
			digests = append(digests, l.Digest)
		}
		for _, d := range digests {
			if seen[d] {
				continue
			}
			seen[d] = true
			data := blob(d)
			if bytes.Contains(data, []byte(needle)) {
				return "blob " + d
			}
			if zr, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
				plain, _ := io.ReadAll(zr)
				if bytes.Contains(plain, []byte(needle)) {
					return "blob " + d + " (uncompressed)"
				}
			}
		}
		return ""
	}
	desc, err := remote.Get(r)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	return visit(desc.Manifest)
}

// fileInImage is the content of a file in an image's last layer that has
// it.
func fileInImage(t *testing.T, ref, path string) string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	content, found := "", false
	for _, l := range layers {
		if c, ok := fileInLayer(t, l, strings.TrimPrefix(path, "/")); ok {
			content, found = c, true
		}
	}
	if !found {
		t.Fatalf("%s has no %s", ref, path)
	}
	return content
}

func fileInLayer(t *testing.T, l v1.Layer, path string) (string, bool) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return "", false
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(h.Name, "./") == path {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return string(data), true
		}
	}
}

// platformImage is the digest of the image (not the attestation) in the
// index ref names: what a node runs.
func platformImage(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" {
			return d.Digest.String()
		}
	}
	t.Fatalf("%s: no linux image in %+v", ref, m.Manifests)
	return ""
}

// registryRepoOf is a reference without its tag.
func registryRepoOf(ref string) string {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i]
	}
	return ref
}
