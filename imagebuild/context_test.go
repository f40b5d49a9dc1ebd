package imagebuild

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// write creates files under dir: path → content; a content starting with
// "->" makes a link to the rest.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "->"); ok {
			err = os.Symlink(target, full)
		} else {
			err = os.WriteFile(full, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// sent lists what BuildKit would receive from an fsutil.FS, as paths.
func sent(t *testing.T, f interface {
	Walk(context.Context, string, fs.WalkDirFunc) error
}) []string {
	t.Helper()
	var out []string
	err := f.Walk(context.Background(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestContextHonoursDockerignore(t *testing.T) {
	repo := t.TempDir()
	write(t, repo, map[string]string{
		"Dockerfile":                "FROM scratch\n",
		".dockerignore":             "node_modules\n*.log\n!keep.log\n",
		"src/app.js":                "x",
		"node_modules/a/index.js":   "big",
		"node_modules/b/index.js":   "big",
		"debug.log":                 "noise",
		"keep.log":                  "kept",
		"src/link-to-app.js":        "->app.js",
		"src/nested/link-up.js":     "->../app.js",
		"other/Dockerfile.ignored":  "",
		"other/.keep":               "",
		"src/nested/deeper/file.go": "package x",
	})
	c, err := OpenContext(context.Background(), Source{Repo: repo, Context: ".", Dockerfile: "Dockerfile"}, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := strings.Join(sent(t, c.context), " ")
	want := ".dockerignore Dockerfile keep.log other other/.keep other/Dockerfile.ignored src src/app.js src/link-to-app.js src/nested src/nested/deeper src/nested/deeper/file.go src/nested/link-up.js"
	if got != want {
		t.Errorf("sent:\n got %s\nwant %s", got, want)
	}
	// With an exception (!keep.log) an ignored directory is walked, as
	// BuildKit does: each of its paths counts.
	if c.Files != 13 || c.Ignored != 6 {
		t.Errorf("files %d ignored %d, want 13 and 6", c.Files, c.Ignored)
	}
	if got := strings.Join(sent(t, c.dockerfile), " "); got != "Dockerfile" {
		t.Errorf("dockerfile mount sends %s, want the Dockerfile alone", got)
	}
}

func TestContextRefusesWhatLeavesIt(t *testing.T) {
	outside := t.TempDir()
	write(t, outside, map[string]string{"secret": "s3cr3t"})
	for _, tc := range []struct {
		name   string
		files  map[string]string
		source Source
		path   string
		reason string
	}{
		{"relative link out", map[string]string{"Dockerfile": "FROM scratch", "app/config": "->../../etc/passwd"},
			Source{Context: ".", Dockerfile: "Dockerfile"}, "app/config", `a link to "../../etc/passwd", outside the build context`},
		{"absolute link", map[string]string{"Dockerfile": "FROM scratch", "home": "->" + outside},
			Source{Context: ".", Dockerfile: "Dockerfile"}, "home", "outside the build context"},
		{"link out of a sub-context", map[string]string{"svc/Dockerfile": "FROM scratch", "svc/shared": "->../lib"},
			Source{Context: "svc", Dockerfile: "Dockerfile"}, "svc/shared", `a link to "../lib"`},
		{"context through a link", map[string]string{"ctx": "->" + outside},
			Source{Context: "ctx", Dockerfile: "Dockerfile"}, "ctx", "a link leads out of the repository"},
		{"no context", map[string]string{"Dockerfile": "FROM scratch"},
			Source{Context: "app", Dockerfile: "Dockerfile"}, "app", "it does not exist"},
		{"no Dockerfile", map[string]string{"Dockerfile.prod": "FROM scratch"},
			Source{Context: ".", Dockerfile: "Dockerfile"}, "Dockerfile", "no Dockerfile there"},
		{"Dockerfile is a link", map[string]string{"Dockerfile": "->" + filepath.Join(outside, "secret")},
			Source{Context: ".", Dockerfile: "Dockerfile"}, "Dockerfile", "not a regular file"},
		{"dockerignore is a link", map[string]string{"Dockerfile": "FROM scratch", ".dockerignore": "->" + filepath.Join(outside, "secret")},
			Source{Context: ".", Dockerfile: "Dockerfile"}, ".dockerignore", "not a regular file"},
		{"out through other links", map[string]string{"ctx/Dockerfile": "FROM scratch", "ctx/a/b/y": "->../..", "ctx/a/b/x": "->y/.."},
			Source{Context: "ctx", Dockerfile: "Dockerfile"}, "ctx/a/b/x", "through other links it leads out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := t.TempDir()
			write(t, repo, tc.files)
			tc.source.Repo = repo
			c, err := OpenContext(context.Background(), tc.source, DefaultLimits)
			if err == nil {
				c.Close()
				t.Fatal("accepted")
			}
			var cerr *ContextError
			if !errors.As(err, &cerr) || cerr.Path != tc.path || !strings.Contains(cerr.Reason, tc.reason) {
				t.Fatalf("got %v, want %s: …%s…", err, tc.path, tc.reason)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Error("the error shows what the link points at")
			}
		})
	}
}

func TestContextRefusesSpecialFiles(t *testing.T) {
	repo := t.TempDir()
	write(t, repo, map[string]string{"Dockerfile": "FROM scratch"})
	if err := syscall.Mkfifo(filepath.Join(repo, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenContext(context.Background(), Source{Repo: repo, Context: ".", Dockerfile: "Dockerfile"}, DefaultLimits)
	if err == nil || !strings.Contains(err.Error(), "pipe: a named pipe") {
		t.Fatalf("got %v", err)
	}
}

func TestContextLimits(t *testing.T) {
	repo := t.TempDir()
	write(t, repo, map[string]string{"Dockerfile": "FROM scratch", "a": "1234", "b": "5678", "ignored/big": strings.Repeat("x", 100), ".dockerignore": "ignored\n"})
	src := Source{Repo: repo, Context: ".", Dockerfile: "Dockerfile"}
	if c, err := OpenContext(context.Background(), src, Limits{MaxFiles: 4, MaxBytes: 30}); err != nil {
		t.Fatalf("within limits, after .dockerignore: %v", err)
	} else {
		c.Close()
	}
	if _, err := OpenContext(context.Background(), src, Limits{MaxFiles: 3, MaxBytes: 1000}); err == nil || !strings.Contains(err.Error(), "more than 3 files") {
		t.Errorf("files: got %v", err)
	}
	if _, err := OpenContext(context.Background(), src, Limits{MaxFiles: 100, MaxBytes: 20}); err == nil || !strings.Contains(err.Error(), "more than 20 bytes") {
		t.Errorf("bytes: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := OpenContext(ctx, src, DefaultLimits); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
}

func TestContextSendsOnlyWhatWasChecked(t *testing.T) {
	repo := t.TempDir()
	write(t, repo, map[string]string{"Dockerfile": "FROM scratch", "app.txt": "v1"})
	c, err := OpenContext(context.Background(), Source{Repo: repo, Context: ".", Dockerfile: "Dockerfile"}, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	write(t, repo, map[string]string{"late.txt": "added after the walk"})
	if err := os.WriteFile(filepath.Join(repo, "app.txt"), []byte("v2 and much longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sent(t, c.context), " "); got != "Dockerfile app.txt" {
		t.Errorf("sent %s", got)
	}
	rc, err := c.context.Open("app.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); err == nil || !strings.Contains(err.Error(), "grew") {
		t.Errorf("a file that grew: got %v", err)
	}
	if _, err := c.context.Open("late.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file added after the walk: got %v", err)
	}
}

// A .dockerignore exception under an ignored directory is sent, with its
// directories; an escape sequence in a file name is printed escaped; a
// .dockerignore of too many patterns is refused.
func TestContextExceptionsAndNames(t *testing.T) {
	repo := t.TempDir()
	write(t, repo, map[string]string{"Dockerfile": "FROM scratch", ".dockerignore": "*\n!Dockerfile\n!src/app.txt\n", "src/app.txt": "x", "src/other": "y"})
	c, err := OpenContext(context.Background(), Source{Repo: repo, Context: ".", Dockerfile: "Dockerfile"}, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := strings.Join(sent(t, c.context), " "); got != ".dockerignore Dockerfile src src/app.txt" {
		t.Errorf("sent %s", got)
	}

	repo = t.TempDir()
	write(t, repo, map[string]string{"Dockerfile": "FROM scratch", "\x1b[2Jevil": "->/etc/passwd"})
	_, err = OpenContext(context.Background(), Source{Repo: repo, Context: ".", Dockerfile: "Dockerfile"}, DefaultLimits)
	if err == nil || strings.ContainsRune(err.Error(), 0x1b) || !strings.Contains(err.Error(), `\x1b[2Jevil`) {
		t.Errorf("got %q", err)
	}

	repo = t.TempDir()
	write(t, repo, map[string]string{"Dockerfile": "FROM scratch", ".dockerignore": strings.Repeat("x*\n", maxIgnorePatterns+1)})
	if _, err := OpenContext(context.Background(), Source{Repo: repo, Context: ".", Dockerfile: "Dockerfile"}, DefaultLimits); err == nil || !strings.Contains(err.Error(), "patterns, more than") {
		t.Errorf("patterns: %v", err)
	}
}
