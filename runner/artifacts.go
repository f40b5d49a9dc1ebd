package runner

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"k8s.io/client-go/tools/remotecommand"

	"envgen.dev/envgen/internal/termsafe"
	"envgen.dev/envgen/manifests"
)

// Artifacts says what to copy out of the build and where to.
type Artifacts struct {
	// Paths in the build container (ci.artifacts).
	Paths []string
	// Dir receives them, under their paths (/tmp/reports/a.xml →
	// Dir/tmp/reports/a.xml).
	Dir string
	// MaxBytes bounds what is written.
	MaxBytes int64
}

// CopiedArtifacts is what a copy wrote.
type CopiedArtifacts struct {
	Files    int      `json:"files"`
	Bytes    int64    `json:"bytes"`
	Skipped  []string `json:"skipped,omitempty"` // links and special files, not copied
	Warnings []string `json:"warnings,omitempty"`
}

// copyArtifacts runs tar in the build Pod's artifacts container (the build
// container has exited; this one mounts its volumes) and unpacks the
// stream into a.Dir. It never writes outside a.Dir: entries are confined
// to it by an os.Root, links are not created, and the total is bounded.
func copyArtifacts(ctx context.Context, client *Core, namespace, pod string, a Artifacts) (*CopiedArtifacts, error) {
	if err := os.MkdirAll(a.Dir, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(a.Dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()

	command := tarCommand(a.Paths)
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	execDone := make(chan error, 1)
	// A stream that brings nothing for artifactsIdle has stalled (a
	// kubelet that stopped, a connection no one closes): it is cut, and
	// the copy made again, rather than waiting out the run's timeout.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(artifactsIdle, func() { cancel(errArtifactsIdle) })
	defer idle.Stop()
	stdout := &activityWriter{w: pw, active: func() { idle.Reset(artifactsIdle) }}
	go func() {
		err := execInPod(ctx, client, namespace, pod, manifests.ArtifactsContainer, command, stdout, &limitedWriter{w: &stderr, n: 64 << 10})
		if err != nil && errors.Is(context.Cause(ctx), errArtifactsIdle) {
			err = fmt.Errorf("%w (%s)", errArtifactsIdle, artifactsIdle)
		}
		pw.CloseWithError(err)
		execDone <- err
	}()
	copied, unpackErr := unpack(root, pr, a.MaxBytes, a.Paths)
	pr.CloseWithError(errors.New("artifacts: stopped reading"))
	execErr := <-execDone
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line != "" {
			copied.Warnings = append(copied.Warnings, line)
		}
	}
	var exitErr interface{ ExitStatus() int }
	broken := execErr != nil && !errors.As(execErr, &exitErr)
	var cut *streamCutError
	if unpackErr != nil && !(errors.As(unpackErr, &cut) && broken) {
		return copied, unpackErr // refused, or bounded: a retry would say the same
	}
	// tar exits non-zero when a path is missing; what was there is copied
	// and the warning says which.
	if broken {
		return copied, &streamCutError{err: fmt.Errorf("exec tar in %s/%s: %w", pod, manifests.ArtifactsContainer, execErr)}
	}
	return copied, nil
}

// execInPod is Core.Exec; a test replaces it with a stream that breaks.
var execInPod = func(ctx context.Context, client *Core, namespace, pod, container string, command []string, stdout, stderr io.Writer) error {
	return client.Exec(ctx, namespace, pod, container, command, stdout, stderr)
}

// artifactsIdle is how long the artifacts' stream may bring nothing: tar
// writes as it reads, so silence is a stall, not a big file.
var artifactsIdle = 30 * time.Second

var errArtifactsIdle = errors.New("the artifacts' stream brought nothing for too long")

// activityWriter calls active on every write: the stream's pulse.
type activityWriter struct {
	w      io.Writer
	active func()
}

func (a *activityWriter) Write(p []byte) (int, error) {
	a.active()
	return a.w.Write(p)
}

// streamCutError is a copy whose stream broke (a stalled connection, an
// API server restart): the files are still in the Pod, and copying again
// may succeed.
type streamCutError struct{ err error }

func (e *streamCutError) Error() string { return e.err.Error() }
func (e *streamCutError) Unwrap() error { return e.err }

// maxArtifactEntries bounds the entries of the stream: a build that
// leaves a million empty files must not fill the CI machine's inodes.
var maxArtifactEntries = 100_000

// tarCommand archives paths relative to /. Each is given as ./path, so
// that no path from envgen.cue can read as an option of tar
// ("/--checkpoint-action=…"). A missing path is a warning from tar (on
// stderr) and the rest is still copied.
func tarCommand(paths []string) []string {
	command := []string{"tar", "-cf", "-", "-C", "/"}
	for _, p := range paths {
		command = append(command, "./"+strings.TrimPrefix(p, "/"))
	}
	return command
}

// maxArtifactDepth bounds the directories of one entry's path: a name of
// 100,000 parts in one entry made as many directories.
const maxArtifactDepth = 64

// unpack writes the regular files and directories of a tar stream under
// root, at most maxBytes of file content and maxArtifactEntries entries
// and directories, each under one of the declared paths (ci.artifacts:
// the stream is the build image's tar, and the build's to craft).
func unpack(root *os.Root, r io.Reader, maxBytes int64, declared []string) (*CopiedArtifacts, error) {
	copied := &CopiedArtifacts{}
	tr := tar.NewReader(r)
	made := map[string]bool{}    // directories created, counted as entries
	written := map[string]bool{} // regular files written, which a hard link may name
	entries := 0
	mkdirAll := func(dir string) error {
		var missing []string
		for d := dir; d != "." && !made[d]; d = path.Dir(d) {
			missing = append(missing, d)
		}
		for i := len(missing) - 1; i >= 0; i-- {
			if entries++; entries > maxArtifactEntries {
				return fmt.Errorf("the artifacts hold more than %d files and directories; %d files copied", maxArtifactEntries, copied.Files)
			}
			if err := root.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return err
			}
			made[missing[i]] = true
		}
		return nil
	}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return copied, nil
		}
		if err != nil {
			return copied, &streamCutError{err: fmt.Errorf("reading the artifacts: %w", err)}
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "/"))
		if name == "." {
			continue
		}
		if name == ".." || strings.HasPrefix(name, "../") {
			return copied, fmt.Errorf("artifact %q points outside the artifacts directory", h.Name)
		}
		if strings.Count(name, "/") >= maxArtifactDepth {
			return copied, fmt.Errorf("artifact %s is more than %d directories deep", termsafe.String(name[:min(len(name), 200)]), maxArtifactDepth)
		}
		if !underDeclared(name, declared, h.Typeflag == tar.TypeDir) {
			// Not something ci.artifacts names: tar in the build image
			// was not the build's own to begin with.
			return copied, fmt.Errorf("artifact %s is under none of ci.artifacts: the build image's tar wrote what it was not asked for", termsafe.String(h.Name))
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := mkdirAll(name); err != nil {
				return copied, err
			}
		case tar.TypeReg:
			if entries++; entries > maxArtifactEntries {
				return copied, fmt.Errorf("the artifacts hold more than %d files and directories; %d files copied", maxArtifactEntries, copied.Files)
			}
			if copied.Bytes+h.Size > maxBytes {
				return copied, fmt.Errorf("the artifacts are larger than --artifacts-max (%d bytes); %d files copied", maxBytes, copied.Files)
			}
			if err := mkdirAll(path.Dir(name)); err != nil {
				return copied, err
			}
			// A file that exists is replaced, never followed: no symlink
			// is ever created here, and os.Root refuses to leave Dir.
			_ = root.Remove(name)
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return copied, err
			}
			n, err := io.Copy(f, io.LimitReader(tr, h.Size))
			copied.Bytes += n
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				err = fmt.Errorf("writing artifact %s: %w", termsafe.String(name), err)
				var pathErr *fs.PathError
				if !errors.As(err, &pathErr) {
					err = &streamCutError{err: err} // the stream broke, not the disk
				}
				return copied, err
			}
			copied.Files++
			written[name] = true
		case tar.TypeLink:
			// tar writes a file's second name as a hard link to the first:
			// a copy of what this stream wrote under that name, never a
			// link, and nothing else.
			target := path.Clean(strings.TrimPrefix(h.Linkname, "/"))
			if !written[target] {
				copied.Skipped = append(copied.Skipped, "/"+name)
				continue
			}
			if entries++; entries > maxArtifactEntries {
				return copied, fmt.Errorf("the artifacts hold more than %d files and directories; %d files copied", maxArtifactEntries, copied.Files)
			}
			if err := mkdirAll(path.Dir(name)); err != nil {
				return copied, err
			}
			n, err := copyWithin(root, target, name, maxBytes-copied.Bytes)
			copied.Bytes += n
			if err != nil {
				return copied, fmt.Errorf("writing artifact %s: %w", termsafe.String(name), err)
			}
			copied.Files++
			written[name] = true
		default:
			copied.Skipped = append(copied.Skipped, "/"+name)
		}
	}
}

// copyWithin copies the file from to a new file to, both inside root, at
// most limit bytes (the rest of the artifacts' bound).
func copyWithin(root *os.Root, from, to string, limit int64) (int64, error) {
	src, err := root.Open(from)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	_ = root.Remove(to)
	dst, err := root.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(dst, io.LimitReader(src, limit+1))
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = fmt.Errorf("the artifacts are larger than --artifacts-max")
	}
	return n, err
}

// underDeclared says whether name (relative, cleaned) is one of the
// declared paths or under one, or, for a directory, above one (tar
// writes those first).
func underDeclared(name string, declared []string, dir bool) bool {
	for _, d := range declared {
		d = strings.TrimPrefix(path.Clean(d), "/")
		if name == d || strings.HasPrefix(name, d+"/") || dir && strings.HasPrefix(d, name+"/") {
			return true
		}
	}
	return false
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// Exec runs command in a container and streams its output: pods/exec over
// WebSocket (kube-apiserver ≥ 1.30).
func (c *Core) Exec(ctx context.Context, namespace, pod, container string, command []string, stdout, stderr io.Writer) error {
	q := url.Values{}
	q.Set("container", container)
	q.Set("stdout", "true")
	q.Set("stderr", "true")
	for _, arg := range command {
		q.Add("command", arg)
	}
	u := fmt.Sprintf("%s/api/v1/namespaces/%s/pods/%s/exec?%s", c.host, url.PathEscape(namespace), url.PathEscape(pod), q.Encode())
	exec, err := remotecommand.NewWebSocketExecutor(c.cfg, "GET", u)
	if err != nil {
		return err
	}
	return exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: stdout, Stderr: stderr})
}
