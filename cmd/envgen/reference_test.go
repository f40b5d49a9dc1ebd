package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"envgen.dev/envgen/cmd/envgen/clustercli"
)

// referenceDir holds a reference page (markdown) and a man page of every
// command, generated from the commands' own help by cobra/doc.
var referenceDir = filepath.Join("..", "..", "docs", "reference")

// TestReferencePagesAreCurrent wants docs/reference to be what the
// commands' help says today; ENVGEN_UPDATE=1 rewrites it (then review the
// diff, as with the goldens).
func TestReferencePagesAreCurrent(t *testing.T) {
	root := clustercli.Root()
	disableAutoGenTag(root)
	out := t.TempDir()
	if err := doc.GenMarkdownTree(root, out); err != nil {
		t.Fatal(err)
	}
	// A fixed date: a page changes when the help does, not with the day.
	date := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	header := &doc.GenManHeader{Title: "ENVGEN", Section: "1", Source: "envgen", Manual: "envgen manual", Date: &date}
	if err := doc.GenManTree(root, header, out); err != nil {
		t.Fatal(err)
	}
	generated, _ := filepath.Glob(filepath.Join(out, "*"))
	if os.Getenv("ENVGEN_UPDATE") != "" {
		if err := os.RemoveAll(referenceDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(referenceDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, path := range generated {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(referenceDir, filepath.Base(path)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	committed, _ := filepath.Glob(filepath.Join(referenceDir, "*"))
	if len(committed) != len(generated) {
		t.Errorf("docs/reference has %d pages, the commands make %d: run ENVGEN_UPDATE=1 go test ./cmd/envgen", len(committed), len(generated))
	}
	for _, path := range generated {
		want, _ := os.ReadFile(path)
		got, err := os.ReadFile(filepath.Join(referenceDir, filepath.Base(path)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("docs/reference/%s is not what the command's help says now: run ENVGEN_UPDATE=1 go test ./cmd/envgen and review the diff", filepath.Base(path))
		}
	}
}

func disableAutoGenTag(c *cobra.Command) {
	c.DisableAutoGenTag = true
	for _, sub := range c.Commands() {
		disableAutoGenTag(sub)
	}
}
