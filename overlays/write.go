package overlays

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rogpeppe/go-internal/diff"

	"envgen.dev/envgen/internal/sorted"
)

// ForeignFilesError says that the output directory holds files envgen did
// not generate (or links, or special files), which replacing the tree would
// destroy and which envgen never reads or prints.
type ForeignFilesError struct {
	Dir   string
	Files []string
	// More says that the walk stopped after MaxForeignListed of them:
	// a wrong --out (a home directory, /) is named, not listed.
	More bool
}

func (e *ForeignFilesError) Error() string {
	files := strings.Join(e.Files, ", ")
	if e.More {
		files += " and more (the walk stopped there)"
	}
	return fmt.Sprintf("%s holds files envgen did not generate: %s; envgen neither reads nor replaces them (move them out, or choose another --out; only README, README.md, OWNERS, OWNERS_ALIASES and .gitattributes may sit at the top of the tree)", e.Dir, files)
}

// MaxForeignListed bounds the files a ForeignFilesError lists: one is
// enough to refuse the directory, a few say which directory it is.
const MaxForeignListed = 20

// MaxTreeEntries bounds the files and directories Read visits: the tree
// envgen writes for 50 environments has a few hundred, so a directory with
// more is not envgen's, and reading it would cost time in proportion to a
// directory nobody meant (--out /).
const MaxTreeEntries = 10000

// TreeTooLargeError says that a directory holds more than MaxTreeEntries
// entries: not a tree envgen wrote.
type TreeTooLargeError struct{ Dir string }

func (e *TreeTooLargeError) Error() string {
	return fmt.Sprintf("%s holds more than %d files and directories: not a tree envgen wrote; envgen neither reads nor replaces it (choose another --out)", e.Dir, MaxTreeEntries)
}

// KeptFiles are the files a team may keep at the top of the tree beside
// what envgen writes — who reviews it, what it is — which envgen neither
// reads nor replaces: regular files only, carried into each new tree by a
// hard link, so their content is never read.
var KeptFiles = map[string]bool{"README.md": true, "README": true, "OWNERS": true, "OWNERS_ALIASES": true, ".gitattributes": true}

// MaxTreeFileSize bounds each file read back from a tree: envgen writes
// nothing bigger (a ConfigMap is at most 1 MiB), so a bigger one is not
// envgen's and is not read further.
const MaxTreeFileSize = 2 << 20

// Read loads the tree at dir. A missing dir is an empty tree. Only regular
// files that start with envgen's header are read, and at most
// MaxTreeFileSize of each: anything else (a hand-written file, a symbolic
// link, a FIFO, a huge file) is reported in foreign by its path alone, so
// that nothing outside what envgen wrote is ever read or printed. The walk
// stops at the MaxForeignListed-th foreign file (more says so) and at
// MaxTreeEntries entries (a *TreeTooLargeError).
func Read(dir string) (tree Tree, foreign []string, err error) {
	tree, foreign, more, err := read(dir)
	if err == nil && more {
		err = &ForeignFilesError{Dir: dir, Files: foreign, More: true}
	}
	return tree, foreign, err
}

func read(dir string) (tree Tree, foreign []string, more bool, err error) {
	info, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return Tree{}, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	if !info.IsDir() {
		return nil, nil, false, fmt.Errorf("%s is a file, not a directory", dir)
	}
	tree = Tree{}
	entries := 0
	addForeign := func(name string) error {
		if len(foreign) == MaxForeignListed {
			more = true
			return fs.SkipAll
		}
		foreign = append(foreign, name)
		return nil
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if entries++; entries > MaxTreeEntries {
			return &TreeTooLargeError{Dir: dir}
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if KeptFiles[rel] && d.Type().IsRegular() {
			return nil // the team's, left alone
		}
		if !d.Type().IsRegular() {
			return addForeign(rel + " (not a regular file)")
		}
		data, ours, err := readGenerated(path)
		if err != nil {
			return err
		}
		if !ours {
			return addForeign(rel)
		}
		tree[rel] = data
		return nil
	})
	return tree, foreign, more, err
}

// readGenerated reads a file envgen wrote, or says it is not one, having
// read no more than its header when it is not.
func readGenerated(path string) (data []byte, ours bool, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return nil, false, err
	}
	head := make([]byte, len(Header))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, []byte(Header)) {
		return nil, false, nil
	}
	rest, err := io.ReadAll(io.LimitReader(f, MaxTreeFileSize))
	if err != nil {
		return nil, false, err
	}
	if len(head)+len(rest) > MaxTreeFileSize {
		return nil, false, nil
	}
	return append(head, rest...), true, nil
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
	prefix := "." + filepath.Base(dir) + ".envgen-new-"
	removeLeftovers(parent, prefix)
	tmp, err := os.MkdirTemp(parent, prefix)
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
	for _, name := range sorted.Keys(KeptFiles) {
		// Read skipped these only as regular files: a link is foreign.
		if err := os.Link(filepath.Join(dir, name), filepath.Join(tmp, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("keeping %s: %w", filepath.Join(dir, name), err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	// One atomic step, whatever kills envgen when: the new tree takes the
	// old one's place and the old one takes the temporary name, which the
	// deferred RemoveAll (or the next generate) deletes.
	err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOENT) {
		return os.Rename(tmp, dir) // no tree yet
	}
	return err
}

// removeLeftovers deletes the temporary trees of an earlier generate that
// was killed before it could.
func removeLeftovers(parent, prefix string) {
	matches, _ := filepath.Glob(filepath.Join(parent, prefix+"*"))
	for _, m := range matches {
		if info, err := os.Lstat(m); err == nil && info.IsDir() {
			_ = os.RemoveAll(m)
		}
	}
}

// Diff returns a unified diff from the tree at dir to tree, file by file in
// sorted order, or nil when they are the same. Paths are labelled as git
// labels them (a/<label>/<path>, b/<label>/<path>, /dev/null for a file on
// one side only). A dir holding files envgen did not write is a
// *ForeignFilesError: their content is never printed.
func Diff(dir, label string, tree Tree) ([]byte, error) {
	current, foreign, err := Read(dir)
	if err != nil {
		return nil, err
	}
	if len(foreign) > 0 {
		return nil, &ForeignFilesError{Dir: dir, Files: foreign}
	}
	var out bytes.Buffer
	for _, p := range sorted.UnionKeys(current, tree) {
		name := filepath.ToSlash(filepath.Join(label, p))
		from, to := "a/"+name, "b/"+name
		if _, ok := current[p]; !ok {
			from = "/dev/null"
		}
		if _, ok := tree[p]; !ok {
			to = "/dev/null"
		}
		out.Write(diff.Diff(from, current[p], to, tree[p]))
	}
	if out.Len() == 0 {
		return nil, nil
	}
	return out.Bytes(), nil
}
