package compiler

import (
	"fmt"

	"envgen.dev/envgen/internal/placeholder"
	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

// checkFileSecrets wants each file of fileSecrets to be one of files,
// each placeholder it declares to be in that file's content (a misspelt
// one would leave ${NAME} in the deployed file, and the secret unused),
// and a renderer to fill them.
func checkFileSecrets(s *model.Service, fail func(field, msg string) error) error {
	for _, p := range sorted.Keys(s.FileSecrets) {
		content, ok := s.Files[p]
		if !ok {
			return fail(fmt.Sprintf("fileSecrets.%q", p), fmt.Sprintf("%s is not one of the service's files%s: fileSecrets fills the placeholders of a file whose content files gives (a layer that drops the file drops its secrets too: fileSecrets: %q: null)", p, fileList(s.Files), p))
		}
		for _, name := range sorted.Keys(s.FileSecrets[p]) {
			if !placeholder.Contains(content, name) {
				return fail(fmt.Sprintf("fileSecrets.%q.%s", p, name), fmt.Sprintf("the content of %s has no ${%s} for this secret to fill%s", p, name, placeholdersOf(content)))
			}
		}
	}
	if len(s.RenderedFiles()) > 0 && s.FileRenderer == nil {
		return fail(fmt.Sprintf("fileSecrets.%q", s.RenderedFiles()[0]),
			`a file with secrets is written when the Pod starts by envgen-render, whose image is not set: set fileRenderer: {image: "…/envgen-render", digest: "sha256:…"} (once, in the organisation's defaults; cmd/envgen-render/Dockerfile builds it)`)
	}
	return nil
}

// placeholdersOf lists, for an error, the placeholders content has.
func placeholdersOf(content string) string {
	names := placeholder.Names(content)
	if len(names) == 0 {
		return " (it has none)"
	}
	if len(names) > 10 {
		names = append(names[:10], "…")
	}
	return fmt.Sprintf(" (it has %v)", names)
}
