// Package golden compares test output with files under the repository's
// golden/ directory. One switch rewrites them all, for every package:
//
//	ENVGEN_UPDATE=1 go test ./...
//
// and the rewrite is then reviewed as a diff like any other change.
package golden

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Update reports whether goldens are being rewritten (ENVGEN_UPDATE=1).
func Update() bool { return os.Getenv("ENVGEN_UPDATE") != "" }

// Dir is the repository's golden/ directory.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "golden")
}

// File compares got with golden/<name>, or rewrites it under ENVGEN_UPDATE.
func File(t testing.TB, name string, got []byte) {
	t.Helper()
	fileAt(t, Dir(), "golden/", name, got)
}

// ExampleTree compares a generated tree with the deploy/ directory an
// example commits (examples/<example>/deploy, what envgen generate
// writes and a reviewer reads), or replaces it under ENVGEN_UPDATE.
func ExampleTree(t testing.TB, example string, files map[string][]byte) {
	t.Helper()
	root := filepath.Join(Dir(), "..", "examples")
	treeAt(t, root, "examples/", example+"/deploy", files)
}

func fileAt(t testing.TB, root, label, name string, got []byte) {
	t.Helper()
	path := filepath.Join(root, filepath.FromSlash(name))
	if Update() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run ENVGEN_UPDATE=1 go test ./... to create it): %v", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s%s differs (-want +got); ENVGEN_UPDATE=1 go test ./... rewrites it:\n%s", label, name, cmp.Diff(string(want), string(got)))
	}
}

// Tree compares files (slash paths → contents) with the directory
// golden/<name>, including files that should no longer be there, or
// replaces the directory under ENVGEN_UPDATE.
func Tree(t testing.TB, name string, files map[string][]byte) {
	t.Helper()
	treeAt(t, Dir(), "golden/", name, files)
}

func treeAt(t testing.TB, root, label, name string, files map[string][]byte) {
	t.Helper()
	dir := filepath.Join(root, filepath.FromSlash(name))
	if Update() {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	onDisk := map[string]bool{}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			onDisk[filepath.ToSlash(rel)] = true
		}
		return nil
	})
	var extra []string
	for p := range onDisk {
		if _, ok := files[p]; !ok {
			extra = append(extra, p)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("%s%s has files the output no longer has: %s", label, name, strings.Join(extra, ", "))
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fileAt(t, root, label, name+"/"+p, files[p])
	}
}
