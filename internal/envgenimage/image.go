// Package envgenimage assembles envgen's own container image, for CI
// agents and the gc CronJob: the static binaries (envgen and the
// envgen-cluster it hands its cluster commands to) on an empty base, as user
// 65532, with nothing else in it (no shell, no package manager), built
// without Docker or a daemon, and reproducible — the same binary gives the
// same digest on every machine (files sorted, times at the epoch).
package envgenimage

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the image's user: not root, and a user no image's files belong
// to (distroless' "nonroot").
const User = "65532"

// Entrypoint is where the binary is.
const Entrypoint = "/envgen"

// ClusterBinary is the file name of the binary envgen hands its cluster
// commands to, installed beside it (cli.ClusterBinary, which this package
// does not link).
const ClusterBinary = "envgen-cluster"

// Build assembles the image of a static envgen binary and of the
// envgen-cluster beside it (where envgen looks for it) for linux/arch.
func Build(binary, arch string) (v1.Image, error) {
	var files [2][]byte
	for i, path := range []string{binary, filepath.Join(filepath.Dir(binary), ClusterBinary)} {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := static(data); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		files[i] = data
	}
	layer, err := rootLayer(files[0], files[1])
	if err != nil {
		return nil, err
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		OS:           "linux",
		Architecture: arch,
		Created:      v1.Time{Time: time.Unix(0, 0).UTC()},
		Config: v1.Config{
			Entrypoint: []string{Entrypoint},
			User:       User + ":" + User,
			Env:        []string{"HOME=/home/envgen", "TMPDIR=/tmp"},
			WorkingDir: "/home/envgen",
			Labels:     map[string]string{"org.opencontainers.image.title": "envgen"},
		},
	})
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return mutate.AppendLayers(img, layer)
}

// static refuses a binary that loads shared libraries: the image has none.
func static(data []byte) error {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not a Linux binary: %w", err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		return err
	}
	if len(libs) > 0 || f.Section(".interp") != nil {
		return fmt.Errorf("not static (it loads %v): build with CGO_ENABLED=0", libs)
	}
	return nil
}

// rootLayer is the image's one layer: the binaries, the user's passwd and
// group entries (so that tools print a name and HOME resolves), its home,
// and /tmp, writable by everyone with the sticky bit.
func rootLayer(binary, cluster []byte) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	entries := []struct {
		name string
		mode int64
		uid  int
		data []byte
	}{
		{"envgen", 0o755, 0, binary},
		{ClusterBinary, 0o755, 0, cluster},
		{"etc/", 0o755, 0, nil},
		{"etc/group", 0o644, 0, []byte("root:x:0:\nenvgen:x:" + User + ":\n")},
		{"etc/passwd", 0o644, 0, []byte("root:x:0:0:root:/root:/sbin/nologin\nenvgen:x:" + User + ":" + User + ":envgen:/home/envgen:/sbin/nologin\n")},
		{"home/", 0o755, 0, nil},
		{"home/envgen/", 0o700, 65532, nil},
		{"tmp/", 0o1777, 0, nil},
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: epoch, Format: tar.FormatPAX}
		if e.data == nil {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if e.data != nil {
			if _, err := tw.Write(e.data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layer)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
