package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

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
		scratch.drop(r.dir)
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

// checkoutRevision copies the CUE files envgen may read for input, as they
// were at rev, into a temporary directory: read from git's objects, never
// from the work tree. Those are the *.cue files beside envgen.cue, those
// under cue.mod/, and, when the directory is a CUE module, those of its
// subdirectories (its own packages) but for testdata/ and directories
// starting with "." or "_", which CUE ignores too. A link or an oversized
// file where envgen would read one is refused, as in the work tree; in a
// subdirectory, where envgen reads only what is imported, it is left out.
// Paths are checked to stay inside the copy.
func checkoutRevision(input, rev string) (*revision, error) {
	abs, err := filepath.Abs(input)
	if err != nil {
		return nil, err
	}
	// git names paths after the links are resolved (a /tmp that is a link).
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return nil, err
	}
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
	// Resolved once to a commit: what is listed and read is that commit's,
	// and a revision is never an option of git's (--output=…).
	var commit string
	if !strings.HasPrefix(rev, "-") {
		out, err := exec.Command("git", "-C", top, "rev-parse", "--verify", "--quiet", "--end-of-options", rev+"^{commit}").Output()
		if err == nil {
			commit = strings.TrimSpace(string(out))
		}
	}
	if commit == "" {
		return nil, fmt.Errorf("unknown revision %q", rev)
	}
	inputName := path.Join(relDir, filepath.Base(abs))
	r := &revision{Spec: rev + ":" + inputName, prefix: rev + ":"}
	if relDir != "." {
		r.prefix += relDir + "/"
	}

	args := []string{"--literal-pathspecs", "-C", top, "ls-tree", "-r", "-l", "-z", "--full-name", commit}
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
	entries := parseTree(listing, relDir)
	module := false
	for _, e := range entries {
		module = module || e.rel == "cue.mod/module.cue"
	}
	refuse := func(e treeEntry, msg string) error {
		// Quoted as git quotes odd names: a newline in one never starts a
		// line of its own.
		name := strconv.Quote(e.rel)
		return &compiler.InputError{Lines: []string{fmt.Sprintf("%s%s: %s", r.prefix, name[1:len(name)-1], msg)}}
	}
	var copies []treeEntry
	found := false
	for _, e := range entries {
		if !safeRelPath(e.rel) {
			return nil, refuse(e, "not a path inside the directory; envgen reads none")
		}
		read, required := readByEnvgen(e.rel, module)
		if !read {
			continue
		}
		regular := e.mode == "100644" || e.mode == "100755"
		switch {
		case !regular && required:
			return nil, refuse(e, "not a regular file (a link or a submodule); envgen reads only regular .cue files")
		case !regular:
			continue
		case e.size > compiler.MaxFileSize && required:
			return nil, refuse(e, fmt.Sprintf("file is %d bytes, more than the limit of %d", e.size, compiler.MaxFileSize))
		case e.size > compiler.MaxFileSize:
			continue
		case len(copies) == maxRevisionFiles:
			return nil, refuse(e, fmt.Sprintf("more than %d CUE files envgen might read", maxRevisionFiles))
		}
		found = found || e.rel == filepath.Base(abs)
		copies = append(copies, e)
	}
	if !found {
		return r, nil
	}
	if r.dir, err = os.MkdirTemp("", "envgen-diff-"); err != nil {
		return nil, err
	}
	scratch.add(r.dir)
	if err := r.copyBlobs(top, copies); err != nil {
		r.Close()
		return nil, err
	}
	r.Input = filepath.Join(r.dir, filepath.Base(abs))
	return r, nil
}

// copyBlobs writes the entries' blobs into the copy, read by one
// `git cat-file --batch`: each answer is a header line
// "<object> blob <size>" and that many bytes, which must be the size
// ls-tree listed (checked against the limit before).
func (r *revision) copyBlobs(top string, entries []treeEntry) error {
	var ids strings.Builder
	for _, e := range entries {
		ids.WriteString(e.object + "\n")
	}
	var stderr bytes.Buffer
	cat := exec.Command("git", "-C", top, "cat-file", "--batch")
	cat.Stdin = strings.NewReader(ids.String())
	cat.Stderr = &stderr
	out, err := cat.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cat.Start(); err != nil {
		return err
	}
	defer cat.Wait()
	defer out.Close()
	answers := bufio.NewReader(out)
	for _, e := range entries {
		header, err := answers.ReadString('\n')
		if err != nil {
			cat.Wait()
			return fmt.Errorf("git cat-file --batch: %v %s", err, strings.TrimSpace(stderr.String()))
		}
		if want := fmt.Sprintf("%s blob %d\n", e.object, e.size); header != want {
			return fmt.Errorf("git cat-file --batch: got %q for %s, want %q", strings.TrimSpace(header), e.rel, strings.TrimSpace(want))
		}
		data := make([]byte, e.size+1) // and the newline after it
		if _, err := io.ReadFull(answers, data); err != nil {
			return fmt.Errorf("git cat-file --batch: %s: %v", e.rel, err)
		}
		if err := r.write(e, data[:e.size]); err != nil {
			return err
		}
	}
	return nil
}

// write writes one blob into the copy.
func (r *revision) write(e treeEntry, data []byte) error {
	target := filepath.Join(r.dir, filepath.FromSlash(e.rel))
	if rel, err := filepath.Rel(r.dir, target); err != nil || !filepath.IsLocal(rel) {
		return fmt.Errorf("%s%s: not a path inside the directory", r.prefix, e.rel)
	}
	if _, err := os.Lstat(r.dir); err != nil {
		return err // removed: the command was stopped
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return err
	}
	return os.WriteFile(target, data, 0o600)
}

// treeEntry is one line of git ls-tree -l.
type treeEntry struct {
	mode, object string
	size         int64
	// rel is the path relative to envgen.cue's directory.
	rel string
}

// parseTree reads `git ls-tree -r -l -z --full-name` output under relDir.
func parseTree(listing []byte, relDir string) []treeEntry {
	var out []treeEntry
	for _, line := range strings.Split(string(listing), "\x00") {
		// <mode> <type> <object> <size>\t<path>
		meta, name, ok := strings.Cut(line, "\t")
		fields := strings.Fields(meta)
		if !ok || len(fields) != 4 || !strings.HasSuffix(name, ".cue") {
			continue
		}
		size, _ := strconv.ParseInt(fields[3], 10, 64) // "-" for a submodule
		rel := name
		if relDir != "." {
			rel = strings.TrimPrefix(name, relDir+"/")
		}
		out = append(out, treeEntry{mode: fields[0], object: fields[2], size: size, rel: rel})
	}
	return out
}

// safeRelPath refuses what git's checkout refuses and a crafted tree can
// still hold: empty, "." and ".." parts, an absolute path.
func safeRelPath(rel string) bool {
	if rel == "" || strings.HasPrefix(rel, "/") || strings.Contains(rel, "\\") {
		return false
	}
	for _, part := range strings.Split(rel, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// readByEnvgen says whether envgen may read a CUE file of the directory
// (rel to it), and whether it always does: the package's own files and
// cue.mod/module.cue are read on every compile, a package of the module
// only when imported.
func readByEnvgen(rel string, module bool) (read, required bool) {
	if !strings.Contains(rel, "/") {
		return true, true
	}
	if rel == "cue.mod/module.cue" {
		return true, true
	}
	if strings.HasPrefix(rel, "cue.mod/") {
		return true, false
	}
	if !module {
		return false, false
	}
	for _, part := range strings.Split(path.Dir(rel), "/") {
		if part == "testdata" || strings.HasPrefix(part, ".") || strings.HasPrefix(part, "_") {
			return false, false
		}
	}
	return true, false
}

// scratch are the temporary directories commands have made and not yet
// removed. A signal or the time budget ends a command without its deferred
// cleanup (execute returns at once); execute removes them then.
var scratch = scratchDirs{dirs: map[string]bool{}}

type scratchDirs struct {
	mu   sync.Mutex
	dirs map[string]bool
}

func (s *scratchDirs) add(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dirs[dir] = true
}

func (s *scratchDirs) drop(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.dirs, dir)
}

// removeAll removes every directory still listed.
func (s *scratchDirs) removeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for dir := range s.dirs {
		os.RemoveAll(dir)
		delete(s.dirs, dir)
	}
}
