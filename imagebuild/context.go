package imagebuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/tonistiigi/fsutil"

	"envgen.dev/envgen/internal/termsafe"
)

// Limits bound the build context: a repository is a pull request's, and a
// context of a million files or of many gigabytes is a mistake (or an
// attack) that would tie up the daemon and the network.
type Limits struct {
	MaxFiles int   // files, directories and links, after .dockerignore
	MaxBytes int64 // bytes of the regular files, after .dockerignore
}

// DefaultLimits hold a large monorepo service (MediaWiki with its vendor
// directory is about 40,000 files) with room to spare.
var DefaultLimits = Limits{MaxFiles: 200_000, MaxBytes: 4 << 30}

// maxSmallFile bounds the files envgen itself reads: the Dockerfile and
// the .dockerignore.
const maxSmallFile = 1 << 20

// maxIgnorePatterns bounds a .dockerignore: every pattern is matched
// against every path of the context.
const maxIgnorePatterns = 1000

// Source says where a build's files are: the context and the Dockerfile,
// both inside Repo, the directory of envgen.cue.
type Source struct {
	Repo       string
	Context    string // relative to Repo
	Dockerfile string // relative to Context
}

// ContextError says why a build context cannot be sent: a link out of it,
// a special file, a limit passed, a Dockerfile that is not there. Path is
// relative to the repository (envgen.cue's directory).
type ContextError struct {
	Path   string
	Reason string
}

// Error escapes the path: it is the repository's file name.
func (e *ContextError) Error() string { return termsafe.String(e.Path) + ": " + e.Reason }

// Context is a checked build context, ready to be sent: exactly the files
// that were walked, through roots that cannot be left.
type Context struct {
	// Files and Bytes are what will be sent (after .dockerignore).
	Files int
	Bytes int64
	// Ignored counts the paths .dockerignore left out (a directory once).
	Ignored int

	context        fsutil.FS
	dockerfile     fsutil.FS
	dockerfileName string
	roots          []*os.Root
}

// Close releases the context's directories.
func (c *Context) Close() error {
	var errs []error
	for _, r := range c.roots {
		errs = append(errs, r.Close())
	}
	return errors.Join(errs...)
}

// OpenContext walks the build context and checks it: every path is
// inside it (a link that points out is refused, so is a special file),
// .dockerignore (or <Dockerfile>.dockerignore) is applied, and the rest
// stays within limits. Nothing outside src.Repo is read.
func OpenContext(ctx context.Context, src Source, limits Limits) (_ *Context, err error) {
	c := &Context{}
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()
	repo, err := os.OpenRoot(src.Repo)
	if err != nil {
		return nil, err
	}
	c.roots = append(c.roots, repo)
	where := func(p string) string { return path.Join(src.Context, p) }
	contextRoot, err := repo.OpenRoot(src.Context)
	if err != nil {
		return nil, &ContextError{Path: src.Context, Reason: "the build context is not a directory inside the repository (" + rootReason(err) + ")"}
	}
	c.roots = append(c.roots, contextRoot)

	dockerfileDir, dockerfileName := path.Split(src.Dockerfile)
	if dockerfileDir == "" {
		dockerfileDir = "."
	}
	dfRoot, err := contextRoot.OpenRoot(dockerfileDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &ContextError{Path: where(src.Dockerfile), Reason: "no Dockerfile there (build.dockerfile names it, relative to build.context)"}
	}
	if err != nil {
		return nil, &ContextError{Path: where(dockerfileDir), Reason: "the Dockerfile's directory is not inside the build context (" + rootReason(err) + ")"}
	}
	c.roots = append(c.roots, dfRoot)
	fi, err := dfRoot.Lstat(dockerfileName)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &ContextError{Path: where(src.Dockerfile), Reason: "no Dockerfile there (build.dockerfile names it, relative to build.context)"}
	case err != nil:
		return nil, err
	case !fi.Mode().IsRegular():
		return nil, &ContextError{Path: where(src.Dockerfile), Reason: "the Dockerfile is not a regular file (a link? name its target)"}
	case fi.Size() > maxSmallFile:
		return nil, &ContextError{Path: where(src.Dockerfile), Reason: fmt.Sprintf("the Dockerfile is %d bytes, more than %d", fi.Size(), maxSmallFile)}
	}
	c.dockerfileName = dockerfileName
	dfFiles := map[string]int64{dockerfileName: fi.Size()}

	// BuildKit's order: <Dockerfile>.dockerignore beside the Dockerfile,
	// else the context's .dockerignore.
	ignoreFile, ignoreRoot := dockerfileName+".dockerignore", dfRoot
	if _, err := dfRoot.Lstat(ignoreFile); err != nil {
		ignoreFile, ignoreRoot = ".dockerignore", contextRoot
	}
	patterns, size, err := readIgnore(ignoreRoot, ignoreFile)
	if err != nil {
		return nil, &ContextError{Path: where(path.Join(dockerfileDir, ignoreFile)), Reason: err.Error()}
	}
	if ignoreRoot == dfRoot && size >= 0 {
		dfFiles[ignoreFile] = size
	}
	c.dockerfile = &checkedFS{inner: fsutil.NewRootFS(fsutil.NewRoot(dfRoot)), files: dfFiles}

	checked, err := c.walk(ctx, contextRoot, patterns, limits, where)
	if err != nil {
		return nil, err
	}
	if ignoreRoot == contextRoot && size >= 0 {
		// The frontend reads the ignore file even when it ignores
		// itself.
		checked[ignoreFile] = size
	}
	c.context = &checkedFS{inner: fsutil.NewRootFS(fsutil.NewRoot(contextRoot)), files: checked}
	return c, nil
}

// walk lists what the context sends: path → size (-1 for a directory or a
// link).
func (c *Context) walk(ctx context.Context, root *os.Root, patterns []string, limits Limits, where func(string) string) (map[string]int64, error) {
	if len(patterns) > maxIgnorePatterns {
		return nil, &ContextError{Path: where(".dockerignore"), Reason: fmt.Sprintf("%d patterns, more than %d: each is matched against every path", len(patterns), maxIgnorePatterns)}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, &ContextError{Path: where(".dockerignore"), Reason: err.Error()}
	}
	files := map[string]int64{}
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(patterns) > 0 {
			//nolint:staticcheck // MatchesOrParentMatches is what BuildKit's own walker means by a match.
			ignored, err := pm.MatchesOrParentMatches(p)
			if err != nil {
				return err
			}
			if ignored {
				c.Ignored++
				// A directory may hold an exception (!dir/keep) only when
				// there are exceptions.
				if d.IsDir() && !pm.Exclusions() {
					return fs.SkipDir
				}
				return nil
			}
		}
		// An exception (!dir/keep) takes a path whose directory was
		// ignored: its directories are sent too, or it would not be.
		for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
			if _, ok := files[dir]; ok {
				break
			}
			files[dir] = -1
		}
		if c.Files++; c.Files > limits.MaxFiles {
			return &ContextError{Path: where("."), Reason: fmt.Sprintf("the build context has more than %d files after .dockerignore: add what the image does not need (node_modules, .git, build output) to .dockerignore", limits.MaxFiles)}
		}
		switch mode := d.Type(); {
		case mode.IsDir():
			files[p] = -1
		case mode&fs.ModeSymlink != 0:
			target, err := root.Readlink(p)
			if err != nil {
				return err
			}
			if escapes(p, target) {
				return &ContextError{Path: where(p), Reason: fmt.Sprintf("a link to %q, outside the build context: the build may read only the context (copy what it needs into it)", termsafe.String(target))}
			}
			// Through other links (a/x -> y/.., y -> ../..): the root
			// follows them and says where they lead.
			if _, err := root.Stat(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return &ContextError{Path: where(p), Reason: "a link that cannot be followed inside the build context (through other links it leads out, or loops): the build may read only the context"}
			}
			files[p] = -1
		case mode.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			if c.Bytes += info.Size(); c.Bytes > limits.MaxBytes {
				return &ContextError{Path: where("."), Reason: fmt.Sprintf("the build context is more than %d bytes after .dockerignore: add what the image does not need to .dockerignore", limits.MaxBytes)}
			}
			files[p] = info.Size()
		default:
			return &ContextError{Path: where(p), Reason: fmt.Sprintf("a %s, not a file, directory or link: a build context holds none", typeName(mode))}
		}
		return nil
	})
	if err != nil {
		var cerr *ContextError
		if errors.As(err, &cerr) || ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("reading the build context %s: %w", where("."), err)
	}
	return files, nil
}

// escapes says whether a link at p (relative to the context) with target
// points out of the context. An absolute target always does: in the
// build it would mean a path of the image being built, never this
// repository's file.
func escapes(p, target string) bool {
	if path.IsAbs(target) || filepath.IsAbs(target) {
		return true
	}
	joined := path.Join(path.Dir(p), target)
	return joined == ".." || strings.HasPrefix(joined, "../")
}

// readIgnore reads a .dockerignore's patterns; size is -1 when there is
// none.
func readIgnore(root *os.Root, name string) (patterns []string, size int64, err error) {
	fi, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, -1, nil
	}
	if err != nil {
		return nil, -1, err
	}
	if !fi.Mode().IsRegular() {
		return nil, -1, errors.New("not a regular file (a link?)")
	}
	if fi.Size() > maxSmallFile {
		return nil, -1, fmt.Errorf("%d bytes, more than %d", fi.Size(), maxSmallFile)
	}
	f, err := root.Open(name)
	if err != nil {
		return nil, -1, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSmallFile))
	if err != nil {
		return nil, -1, err
	}
	patterns, err = ignorefile.ReadAll(bytes.NewReader(data))
	return patterns, int64(len(data)), err
}

func rootReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "it does not exist"
	case strings.Contains(err.Error(), "escapes"):
		return "a link leads out of the repository"
	}
	return err.Error()
}

func typeName(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeNamedPipe != 0:
		return "named pipe"
	case mode&fs.ModeSocket != 0:
		return "socket"
	case mode&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// checkedFS serves only the files a walk checked, each no larger than it
// was then: what BuildKit receives is what was counted.
type checkedFS struct {
	inner fsutil.FS
	files map[string]int64 // path → size, -1 for a directory or link
}

func (c *checkedFS) Walk(ctx context.Context, target string, fn fs.WalkDirFunc) error {
	return c.inner.Walk(ctx, target, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fn(p, d, err)
		}
		if _, ok := c.files[filepath.ToSlash(p)]; !ok {
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		return fn(p, d, nil)
	})
}

func (c *checkedFS) Open(p string) (io.ReadCloser, error) {
	size, ok := c.files[filepath.ToSlash(p)]
	if !ok || size < 0 {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	rc, err := c.inner.Open(p)
	if err != nil {
		return nil, err
	}
	return &boundedFile{ReadCloser: rc, left: size, path: p}, nil
}

// boundedFile fails a file that grew after the walk measured it.
type boundedFile struct {
	io.ReadCloser
	left int64
	path string
}

func (f *boundedFile) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if f.left -= int64(n); f.left < 0 {
		return 0, fmt.Errorf("%s grew while the build context was being sent", f.path)
	}
	return n, err
}
