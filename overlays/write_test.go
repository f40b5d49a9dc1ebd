package overlays_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"envgen.dev/envgen/overlays"
)

func file(s string) []byte { return []byte(overlays.Header + s) }

func TestWriteReplacesTreeAndRemovesStaleFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "deploy")
	if err := overlays.Write(dir, overlays.Tree{"base/a.yaml": file("a"), "overlays/ci/old.yaml": file("old")}); err != nil {
		t.Fatal(err)
	}
	want := overlays.Tree{"base/a.yaml": file("a2"), "overlays/ci/new.yaml": file("new")}
	if err := overlays.Write(dir, want); err != nil {
		t.Fatal(err)
	}
	got, foreign, err := overlays.Read(dir)
	if err != nil || len(foreign) > 0 {
		t.Fatalf("read: %v %v", err, foreign)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".deploy.envgen-new-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary directories left: %v", leftovers)
	}
}

func TestFailedWriteLeavesPreviousTree(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "deploy")
	previous := overlays.Tree{"base/a.yaml": file("a")}
	if err := overlays.Write(dir, previous); err != nil {
		t.Fatal(err)
	}
	// "x" cannot be a file and a directory: writing fails half-way.
	err := overlays.Write(dir, overlays.Tree{"base/a.yaml": file("changed"), "x": file("1"), "x/y": file("2")})
	if err == nil {
		t.Fatal("write succeeded")
	}
	got, _, err := overlays.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(previous, got); diff != "" {
		t.Errorf("previous tree changed (-want +got):\n%s", diff)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dir), ".deploy.envgen-new-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary directories left: %v", leftovers)
	}
}

func TestWriteRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.md"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := overlays.Write(dir, overlays.Tree{"base/a.yaml": file("a")})
	var foreign *overlays.ForeignFilesError
	if !errors.As(err, &foreign) || foreign.Files[0] != "notes.md" {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.md")); err != nil {
		t.Error(err)
	}
}

// TestWriteCleansUpAKilledWrite: a generate killed mid-write leaves its
// temporary tree behind; the next one removes it.
func TestWriteCleansUpAKilledWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "deploy")
	leftover := filepath.Join(filepath.Dir(dir), ".deploy.envgen-new-123456")
	if err := os.MkdirAll(filepath.Join(leftover, "base"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := overlays.Write(dir, overlays.Tree{"base/a.yaml": file("a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed write's %s is still there: %v", leftover, err)
	}
}

// TestReadStopsEarlyInAWrongDirectory: --out pointed at a directory that
// is not a tree (a home directory, /usr) is named by a few of its files
// and refused without walking it all.
func TestReadStopsEarlyInAWrongDirectory(t *testing.T) {
	t.Run("many foreign files", func(t *testing.T) {
		dir := t.TempDir()
		for i := range overlays.MaxForeignListed * 3 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", i)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		err := overlays.Write(dir, overlays.Tree{"base/a.yaml": file("a")})
		var foreign *overlays.ForeignFilesError
		if !errors.As(err, &foreign) || !foreign.More || len(foreign.Files) != overlays.MaxForeignListed {
			t.Fatalf("got %v", err)
		}
		if !strings.Contains(err.Error(), "and more") {
			t.Errorf("the message does not say the list is cut: %v", err)
		}
	})
	t.Run("many directories", func(t *testing.T) {
		dir := t.TempDir()
		for i := range overlays.MaxTreeEntries + 1 {
			if err := os.Mkdir(filepath.Join(dir, fmt.Sprint(i)), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		_, err := overlays.Diff(dir, "deploy", overlays.Tree{"base/a.yaml": file("a")})
		var large *overlays.TreeTooLargeError
		if !errors.As(err, &large) {
			t.Fatalf("got %v", err)
		}
	})
}

// TestWriteKeepsTheTeamsFiles: a README or OWNERS at the top of the tree
// is neither foreign nor replaced: each new tree carries it, unread, and a
// link in its place is still refused.
func TestWriteKeepsTheTeamsFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "deploy")
	if err := overlays.Write(dir, overlays.Tree{"base/a.yaml": file("a")}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"OWNERS", "README.md"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("team: search\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if diff, err := overlays.Diff(dir, "deploy", overlays.Tree{"base/a.yaml": file("a")}); err != nil || diff != nil {
		t.Fatalf("the team's files count: %q, %v", diff, err)
	}
	if err := overlays.Write(dir, overlays.Tree{"base/b.yaml": file("b")}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"OWNERS", "README.md"} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != "team: search\n" {
			t.Errorf("%s after generate: %q, %v", name, got, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "base", "a.yaml")); !os.IsNotExist(err) {
		t.Errorf("the old tree's file is still there: %v", err)
	}
	os.Remove(filepath.Join(dir, "OWNERS"))
	if err := os.Symlink("/etc/hostname", filepath.Join(dir, "OWNERS")); err != nil {
		t.Fatal(err)
	}
	var foreign *overlays.ForeignFilesError
	if err := overlays.Write(dir, overlays.Tree{"base/b.yaml": file("b")}); !errors.As(err, &foreign) {
		t.Errorf("a link as OWNERS: %v", err)
	}
}
