package compiler

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Reading envgen.cue and the .cue files beside it: bounded, regular files
// only, never through a link.

// CompileFile reads and compiles the envgen.cue at path, together with
// every other *.cue file beside it: they form one CUE package, as `cue
// export` reads them (a team may keep shared values in defaults.cue).
// Subdirectories are not read, but for the packages envgen.cue imports
// from its CUE module (cue.mod beside it; see imports.go).
func CompileFile(path string, opts Options) (*Project, error) {
	src, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	sources := []Source{{Name: path, Data: src}}
	others, err := siblingCUEFiles(path)
	if err != nil {
		return nil, err
	}
	total := len(src)
	for _, other := range others {
		data, err := readBounded(other)
		if err != nil {
			return nil, err
		}
		if total += len(data); total > MaxFileSize {
			return nil, &InputError{Lines: []string{fmt.Sprintf("%s: the package's CUE files are more than %d bytes together", other, MaxFileSize)}}
		}
		sources = append(sources, Source{Name: other, Data: data})
	}
	return compileSources(sources, opts, filepath.Dir(path))
}

// maxPackageFiles bounds how many .cue files a package may have.
const maxPackageFiles = 20

// siblingCUEFiles lists the other .cue files in path's directory, sorted.
func siblingCUEFiles(path string) ([]string, error) {
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, &FileError{Path: dir, Err: err}
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || filepath.Ext(name) != ".cue" || name == filepath.Base(path) {
			continue
		}
		if !e.Type().IsRegular() {
			return nil, &InputError{Lines: []string{fmt.Sprintf("%s: not a regular file (a link or a special file); envgen reads only regular .cue files", filepath.Join(dir, name))}}
		}
		out = append(out, filepath.Join(dir, name))
	}
	if len(out)+1 > maxPackageFiles {
		return nil, &InputError{Lines: []string{fmt.Sprintf("%s: %d .cue files, more than the limit of %d", dir, len(out)+1, maxPackageFiles)}}
	}
	return out, nil
}

// readBounded reads a regular file of at most MaxFileSize bytes, without
// following a symbolic link and without blocking on a FIFO.
func readBounded(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, &InputError{Lines: []string{fmt.Sprintf("%s: is a symbolic link; envgen reads only regular files", path)}}
	}
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	if info.IsDir() {
		return nil, &InputError{Lines: []string{fmt.Sprintf("%s: is a directory, not a CUE file", path)}}
	}
	if !info.Mode().IsRegular() {
		return nil, &InputError{Lines: []string{fmt.Sprintf("%s: is not a regular file (%s); envgen reads only regular files", path, info.Mode().Type())}}
	}
	if info.Size() > MaxFileSize {
		return nil, &InputError{Lines: []string{fmt.Sprintf("%s: file is %d bytes, more than the limit of %d", path, info.Size(), MaxFileSize)}}
	}
	src := make([]byte, info.Size())
	if _, err := f.ReadAt(src, 0); err != nil && info.Size() > 0 {
		return nil, &FileError{Path: path, Err: err}
	}
	return src, nil
}
