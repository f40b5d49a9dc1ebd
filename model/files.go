package model

import (
	"path"
	"slices"
	"strings"

	"envgen.dev/envgen/internal/sorted"
)

// SecretKeyRef is one key of an existing Secret.
type SecretKeyRef struct {
	Secret string `json:"secret"`
	Key    string `json:"key"`
}

// FileRenderer is the image of envgen-render, which fills the
// placeholders of FileSecrets when a Pod starts.
type FileRenderer struct {
	Image  string `json:"image"`
	Digest string `json:"digest"`
}

// ImageRef is the renderer's image pinned by its digest.
func (r FileRenderer) ImageRef() string { return r.Image + "@" + r.Digest }

// HasSecrets says whether a config file is rendered when the Pod starts
// (it has fileSecrets) rather than mounted from the files ConfigMap as it
// is.
func (s *Service) HasSecrets(filePath string) bool {
	return len(s.FileSecrets[filePath]) > 0
}

// RenderedFiles are the paths of the files with secrets, sorted.
func (s *Service) RenderedFiles() []string {
	var out []string
	for _, p := range sorted.Keys(s.FileSecrets) {
		if s.HasSecrets(p) {
			out = append(out, p)
		}
	}
	return out
}

// FileOfContainer says whether a config file is one the Pod's other
// containers list in their files: those mount it, the main container
// does not.
func (s *Service) FileOfContainer(path string) bool {
	for _, c := range s.Containers {
		if slices.Contains(c.Files, path) {
			return true
		}
	}
	return false
}

// FileKey is a config file's key in the files' ConfigMap (and the subPath
// it is mounted by): its base name, or, where another file has the same
// base name (an app's and its proxy's config.yaml), its path with "_" for
// "/" ("etc_envoy_config.yaml"). The compiler checks that the keys are
// valid and distinct.
func (s *Service) FileKey(filePath string) string {
	base := path.Base(filePath)
	for other := range s.Files {
		if other != filePath && path.Base(other) == base {
			return strings.ReplaceAll(strings.TrimPrefix(filePath, "/"), "/", "_")
		}
	}
	return base
}
