package wholefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplaceAndCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := Create(path, 0o640, strings.NewReader("one")); err != nil {
		t.Fatal(err)
	}
	if err := Create(path, 0o640, strings.NewReader("two")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over a file: %v, want it refused", err)
	}
	if err := Replace(path, 0o755, strings.NewReader("three")); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "three" {
		t.Errorf("content %q, %v", data, err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, %v", info.Mode(), err)
	}
	// Nothing else is left beside it.
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left %v", entries)
	}
}
