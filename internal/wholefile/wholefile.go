// Package wholefile writes a file whole or not at all: into a temporary
// file beside it, then renamed (Replace) or linked (Create) into place, so
// that a reader or a killed writer never sees half of it.
package wholefile

import (
	"io"
	"os"
	"path/filepath"
)

// Replace writes what r holds to path with mode, replacing a file there.
func Replace(path string, mode os.FileMode, r io.Reader) error {
	return write(path, mode, r, os.Rename)
}

// Create writes what r holds to path with mode; it fails if path exists,
// also when it was taken while the file was being written.
func Create(path string, mode os.FileMode, r io.Reader) error {
	return write(path, mode, r, os.Link)
}

func write(path string, mode os.FileMode, r io.Reader, place func(tmp, path string) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a rename, there is nothing left to remove
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return place(tmp.Name(), path)
}
