package compiler_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"envgen.dev/envgen/compiler"
)

// writeTree writes files (path → content) under a new directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const importingService = `import "wmf.example.org/base"

name:  "svc"
image: base.registry + "/svc"
tag:   "1.0"
ci: command: ["make"]
`

func TestImportsAreBounded(t *testing.T) {
	for _, tc := range []struct {
		desc  string
		files map[string]string
		want  string
	}{{
		desc: "an imported file counts in envgen.cue's size limit",
		files: map[string]string{
			"cue.mod/module.cue": `module: "example.org/svc"`,
			"cue.mod/pkg/wmf.example.org/base/base.cue": "package base\nregistry: \"r.example.org\"\n_padding: \"" +
				strings.Repeat("x", compiler.MaxFileSize-200) + "\"\n",
			"cue.mod/pkg/wmf.example.org/base/more.cue": "package base\n_more: \"" + strings.Repeat("y", 1000) + "\"\n",
		},
		want: "envgen.cue and what it imports are more than",
	}, {
		desc:  "module.cue without a module path",
		files: map[string]string{"cue.mod/module.cue": `language: version: "v0.12.0"`},
		want:  `no module path (module: "example.org/team")`,
	}, {
		desc: "the module itself",
		files: map[string]string{
			"cue.mod/module.cue": `module: "wmf.example.org/base"`,
		},
		want: `cannot import "wmf.example.org/base": it is the module envgen.cue belongs to`,
	}, {
		desc: "a directory without the package",
		files: map[string]string{
			"cue.mod/module.cue":                         `module: "example.org/svc"`,
			"cue.mod/pkg/wmf.example.org/base/other.cue": "package other\nx: 1\n",
		},
		want: "has no .cue files of package base",
	}, {
		desc: "packages that import each other",
		files: map[string]string{
			"cue.mod/module.cue":                        `module: "example.org/svc"`,
			"cue.mod/pkg/wmf.example.org/base/base.cue": "package base\nimport \"wmf.example.org/mesh\"\nregistry: mesh.registry\n",
			"cue.mod/pkg/wmf.example.org/mesh/mesh.cue": "package mesh\nimport \"wmf.example.org/base\"\nregistry: \"r.example.org\"\nx: base.registry\n",
		},
		want: "import cycle: wmf.example.org/base → wmf.example.org/mesh → wmf.example.org/base",
	}} {
		t.Run(tc.desc, func(t *testing.T) {
			tc.files["envgen.cue"] = importingService
			dir := writeTree(t, tc.files)
			_, err := compiler.CompileFile(filepath.Join(dir, "envgen.cue"), compiler.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestImportFromMemoryIsRefused(t *testing.T) {
	_, err := compiler.Compile("envgen.cue", []byte(importingService), compiler.Options{})
	if err == nil || !strings.Contains(err.Error(), `envgen.cue:1:8: cannot import "wmf.example.org/base": only an envgen.cue read from a directory`) {
		t.Fatalf("got %v", err)
	}
}

// TestImportedTwice: a package two others import is one package (read
// once), and the service compiles.
func TestImportedTwice(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"cue.mod/module.cue":                          `module: "example.org/svc"`,
		"cue.mod/pkg/wmf.example.org/base/base.cue":   "package base\nimport \"wmf.example.org/names\"\nregistry: names.registry\n",
		"cue.mod/pkg/wmf.example.org/names/names.cue": "package names\nregistry: \"r.example.org\"\n",
		"envgen.cue": `import (
	"wmf.example.org/base"
	"wmf.example.org/names"
)

name:  "svc"
image: base.registry + "/svc"
tag:   "1.0"
env: REGISTRY: names.registry
ci: command: ["make"]
`,
	})
	p, err := compiler.CompileFile(filepath.Join(dir, "envgen.cue"), compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Base.Image != "r.example.org/svc" || p.Base.Env["REGISTRY"].Value != "r.example.org" {
		t.Fatalf("image %q, REGISTRY %+v", p.Base.Image, p.Base.Env["REGISTRY"])
	}
}
