package realnode

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"envgen.dev/envgen/internal/e2ekit"
)

// hostileTars are the streams a pull request's build image can hand envgen
// for its artifacts, by replacing the tar it runs: each entry a way out of
// the --artifacts directory or into the agent's terminal.
func hostileTars(t *testing.T) map[string]string {
	t.Helper()
	type entry struct {
		name, link, body string
		typ              byte
	}
	stream := func(entries ...entry) string {
		var b bytes.Buffer
		w := tar.NewWriter(&b)
		for _, e := range entries {
			h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link, Format: tar.FormatPAX}
			if e.typ == tar.TypeSymlink || e.typ == tar.TypeDir {
				h.Size = 0
			}
			if err := w.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if h.Size > 0 {
				if _, err := w.Write([]byte(e.body)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	ok := entry{name: "./tmp/reports/ok.txt", body: "ok\n", typ: tar.TypeReg}
	return map[string]string{
		// Up and out of the destination, into the agent's files.
		"escape": stream(ok, entry{name: "./tmp/reports/../../../../escape.txt", body: "pwned\n", typ: tar.TypeReg}),
		// A path ci.artifacts never named: the agent's git configuration.
		"outside": stream(ok, entry{name: "./home/jenkins/.gitconfig", body: "[core]\n\tfsmonitor = touch /tmp/pwned\n", typ: tar.TypeReg}),
		// A link to the agent's home, then a file through it; the link's
		// name would rewrite the terminal's line.
		"link": stream(ok,
			entry{name: "./tmp/reports/home", link: "/home/jenkins", typ: tar.TypeSymlink},
			entry{name: "./tmp/reports/home/.gitconfig", body: "[core]\n", typ: tar.TypeReg},
			entry{name: "./tmp/reports/\x1b[2K\renvgen: build passed", link: "/", typ: tar.TypeSymlink}),
		// Directories by the thousand from one short entry.
		"deep": stream(ok, entry{name: "./tmp/reports/" + strings.Repeat("d/", 70) + "f", body: "x", typ: tar.TypeReg}),
	}
}

// TestArtifactsFromAHostileImage: a pull request's image replaces tar, so
// what envgen run unpacks into --artifacts is the build's to craft. On the
// real node, with the image built from the repository: a path out of the
// destination, a path ci.artifacts does not name and one 70 directories
// deep stop the copy (125) with what was copied before; a link is never
// created (a file "through" it lands inside the destination), and its
// name is printed escaped. Nothing is written outside the destination.
func TestArtifactsFromAHostileImage(t *testing.T) {
	addr := daemon(t, "buildkitd")
	files := map[string]string{
		"Dockerfile": fromBusybox() + `
COPY evil/ /evil/
RUN rm /bin/tar && printf '#!/bin/sh\nexec cat /evil/$(cat /tmp/reports/which).tar\n' > /bin/tar && chmod 755 /bin/tar
`,
	}
	for mode, stream := range hostileTars(t) {
		files["evil/"+mode+".tar"] = stream
	}
	for _, tc := range []struct {
		mode, want string
		code       int
	}{
		{"escape", `artifact "./tmp/reports/../../../../escape.txt" points outside the artifacts directory`, 125},
		{"outside", "artifact ./home/jenkins/.gitconfig is under none of ci.artifacts: the build image's tar wrote what it was not asked for", 125},
		{"deep", "is more than 64 directories deep", 125},
		{"link", `envgen: artifacts: /tmp/reports/\x1b[2K\x0denvgen: build passed skipped: not a regular file or directory`, 0},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			dir := repo(t, "hostile-"+tc.mode, "", `command: ["sh", "-c", "mkdir -p /tmp/reports && echo `+tc.mode+` > /tmp/reports/which"]
	artifacts: ["/tmp/reports"]`, files)
			work := t.TempDir()
			out := filepath.Join(work, "a", "out")
			home := filepath.Join(work, "home")
			if err := os.MkdirAll(home, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("HOME", home)
			r := run(t, "run", "--buildkit", addr, "--build-id", "hostile-"+tc.mode, "--artifacts", out, dir)
			e2ekit.WantCode(t, r, tc.code)
			e2ekit.WantContains(t, "stderr", r.Stderr, tc.want)
			if strings.ContainsRune(r.Stderr, '\x1b') {
				t.Error("a control character from the build reached the terminal")
			}
			if data, err := os.ReadFile(filepath.Join(out, "tmp/reports/ok.txt")); err != nil || string(data) != "ok\n" {
				t.Errorf("the entry before the hostile one: %q, %v", data, err)
			}
			// Nothing outside the destination: not beside it, not in HOME.
			err := filepath.WalkDir(work, func(p string, d os.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if p != work && p != filepath.Dir(out) && p != out && p != home && !strings.HasPrefix(p, out+string(filepath.Separator)) {
					t.Errorf("written outside --artifacts: %s", p)
				}
				if d.Type()&os.ModeSymlink != 0 {
					t.Errorf("a link was created: %s", p)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.mode == "link" {
				info, err := os.Lstat(filepath.Join(out, "tmp/reports/home"))
				if err != nil || !info.IsDir() {
					t.Errorf("the file through the link: %v, %v; want a directory inside the destination", info, err)
				}
			}
		})
	}
}

// TestHardLinkedArtifactsAreCopied: a file with two names in the build's
// output reaches tar as a file and a hard link; both names are copied out
// as regular files (the second was skipped as "not a regular file").
func TestHardLinkedArtifactsAreCopied(t *testing.T) {
	dir := service(t, "real-hardlink", `command: ["sh", "-c", "mkdir -p /tmp/reports && echo report > /tmp/reports/a.xml && ln /tmp/reports/a.xml /tmp/reports/b.xml"]
	artifacts: ["/tmp/reports"]`)
	out := t.TempDir()
	r := run(t, "run", "--build-id", "hardlink-1", "--artifacts", out, dir)
	e2ekit.WantCode(t, r, 0)
	e2ekit.WantContains(t, "stderr", r.Stderr, "copied 2 artifact files")
	for _, name := range []string{"a.xml", "b.xml"} {
		if data, err := os.ReadFile(filepath.Join(out, "tmp/reports", name)); err != nil || string(data) != "report\n" {
			t.Errorf("%s: %q, %v", name, data, err)
		}
	}
}
