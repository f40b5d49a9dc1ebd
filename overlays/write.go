package overlays

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/diff"

	"envgen.dev/envgen/internal/sorted"
)

// ForeignFilesError says that the output directory holds files envgen did
// not generate, which replacing the tree would destroy.
type ForeignFilesError struct {
	Dir   string
	Files []string
}

func (e *ForeignFilesError) Error() string {
	return fmt.Sprintf("refusing to replace %s: it holds files envgen did not generate: %v (move them, or choose another --out)", e.Dir, e.Files)
}

// Read loads the tree at dir. A missing dir is an empty tree. Files
// without envgen's header are reported in foreign.
func Read(dir string) (tree Tree, foreign []string, err error) {
	tree = Tree{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == dir {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(data, []byte(Header)) {
			foreign = append(foreign, rel)
		}
		tree[rel] = data
		return nil
	})
	if info, statErr := os.Stat(dir); statErr == nil && !info.IsDir() {
		return nil, nil, fmt.Errorf("%s is a file, not a directory", dir)
	}
	return tree, foreign, err
}

// Write replaces the tree at dir atomically: the new tree is written to a
// temporary sibling directory and renamed into place, so a failure leaves
// the previous tree untouched, and files that no longer belong are gone.
// It refuses to replace a directory holding files envgen did not generate.
func Write(dir string, tree Tree) error {
	_, foreign, err := Read(dir)
	if err != nil {
		return err
	}
	if len(foreign) > 0 {
		return &ForeignFilesError{Dir: dir, Files: foreign}
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".envgen-new-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, p := range tree.Paths() {
		full := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, tree[p], 0o644); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	old := tmp + ".old"
	if err := os.Rename(dir, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Put the previous tree back: a failed generate changes nothing.
		_ = os.Rename(old, dir)
		return err
	}
	return os.RemoveAll(old)
}

// Diff returns a unified diff from the tree at dir to tree, file by file in
// sorted order, or nil when they are the same. label is how dir is named
// in the diff headers.
func Diff(dir, label string, tree Tree) ([]byte, error) {
	current, _, err := Read(dir)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, p := range sorted.UnionKeys(current, tree) {
		name := filepath.ToSlash(filepath.Join(label, p))
		out.Write(diff.Diff(name, current[p], name, tree[p]))
	}
	if out.Len() == 0 {
		return nil, nil
	}
	return out.Bytes(), nil
}
