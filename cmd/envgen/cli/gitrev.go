package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"envgen.dev/envgen/compiler"
)

// maxRevisionFiles bounds the CUE files envgen diff copies out of an old
// revision: envgen.cue, the files of its package and the packages it may
// import (its module's, cue.mod/pkg's).
const maxRevisionFiles = 200

// revision is the CUE of a service's directory as it was at a git
// revision, copied into a temporary directory.
type revision struct {
	// Input is envgen.cue in the copy; "" if it did not exist at the
	// revision.
	Input string
	// Spec names the old envgen.cue as git does (HEAD~1:svc/envgen.cue),
	// for messages.
	Spec string
	dir  string
	// prefix names the copy's directory as git does: "HEAD~1:svc/".
	prefix string
}

// Close removes the copy.
func (r *revision) Close() {
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
}

// Rename rewrites the copy's paths in an error's text into git's names of
// the files (HEAD~1:svc/envgen.cue), so that a message never points into a
// directory that is gone.
func (r *revision) Rename(msg string) string {
	if r.dir == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, r.dir+string(filepath.Separator), r.prefix)
	if cwd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(cwd, r.dir); err == nil {
			msg = strings.ReplaceAll(msg, rel+string(filepath.Separator), r.prefix)
		}
	}
	return msg
}

// checkoutRevision copies the CUE files under input's directory, as they
// were at rev, into a temporary directory: read from git's objects, never
// from the work tree. Only regular files are copied (a link is left out,
// as envgen never follows one), each checked against the size limit before
// it is read, and at most maxRevisionFiles of them.
func checkoutRevision(input, rev string) (*revision, error) {
	abs, err := filepath.Abs(input)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(abs)
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return nil, fmt.Errorf("%s is not in a git repository", dir)
	}
	top := strings.TrimSpace(string(out))
	relDir, err := filepath.Rel(top, dir)
	if err != nil {
		return nil, err
	}
	relDir = filepath.ToSlash(relDir)
	// A revision is never an option of git's (--output=…).
	if strings.HasPrefix(rev, "-") || exec.Command("git", "-C", top, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}").Run() != nil {
		return nil, fmt.Errorf("unknown revision %q", rev)
	}
	inputName := path.Join(relDir, filepath.Base(abs))
	r := &revision{Spec: rev + ":" + inputName, prefix: rev + ":"}
	if relDir != "." {
		r.prefix += relDir + "/"
	}

	args := []string{"-C", top, "ls-tree", "-r", "-l", "-z", "--full-name", rev}
	if relDir != "." {
		args = append(args, "--", relDir+"/")
	}
	var stderr bytes.Buffer
	ls := exec.Command("git", args...)
	ls.Stderr = &stderr
	listing, err := ls.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-tree %s: %s", rev, strings.TrimSpace(stderr.String()))
	}
	type blob struct{ object, path string }
	var blobs []blob
	found := false
	for _, entry := range strings.Split(string(listing), "\x00") {
		// <mode> <type> <object> <size>\t<path>
		meta, name, ok := strings.Cut(entry, "\t")
		fields := strings.Fields(meta)
		if !ok || len(fields) != 4 || !strings.HasSuffix(name, ".cue") {
			continue
		}
		if fields[0] != "100644" && fields[0] != "100755" {
			continue // a link (120000) or a submodule: envgen reads neither
		}
		size, err := strconv.ParseInt(fields[3], 10, 64)
		if err != nil {
			continue
		}
		if size > compiler.MaxFileSize {
			return nil, &compiler.InputError{Lines: []string{fmt.Sprintf("%s:%s: file is %d bytes, more than the limit of %d", rev, name, size, compiler.MaxFileSize)}}
		}
		if len(blobs) == maxRevisionFiles {
			return nil, &compiler.InputError{Lines: []string{fmt.Sprintf("%s:%s: more than %d CUE files", rev, relDir, maxRevisionFiles)}}
		}
		found = found || name == inputName
		blobs = append(blobs, blob{fields[2], name})
	}
	if !found {
		return r, nil
	}
	if r.dir, err = os.MkdirTemp("", "envgen-diff-"); err != nil {
		return nil, err
	}
	for _, b := range blobs {
		rel := strings.TrimPrefix(b.path, relDir+"/")
		if relDir == "." {
			rel = b.path
		}
		target := filepath.Join(r.dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			r.Close()
			return nil, err
		}
		stderr.Reset()
		cat := exec.Command("git", "-C", top, "cat-file", "blob", b.object)
		cat.Stderr = &stderr
		data, err := cat.Output()
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("git cat-file %s:%s: %s", rev, b.path, strings.TrimSpace(stderr.String()))
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			r.Close()
			return nil, err
		}
	}
	r.Input = filepath.Join(r.dir, filepath.Base(abs))
	return r, nil
}
