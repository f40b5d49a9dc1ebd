package testcluster

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The test images. There is no Docker Hub here: both are built from
// Debian's busybox-static and served by a registry in the test process.
const (
	// BusyboxImage is a shell and the usual tools (busybox's applets), at
	// Registry + "/" + BusyboxImage + ":" + ImageTag.
	BusyboxImage = "busybox"
	// PauseImage is the Pod sandbox image: busybox sleeping forever.
	PauseImage = "pause"
	// ImageTag is the tag of both images.
	ImageTag = "test"
)

// busyboxPath is Debian's busybox-static.
const busyboxPath = "/bin/busybox"

// imageRegistry is an OCI registry on 127.0.0.1 in this process.
type imageRegistry struct {
	host   string // 127.0.0.1:port
	server *http.Server
}

// startRegistry serves an empty in-memory registry and pushes the test
// images into it.
func startRegistry() (*imageRegistry, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &imageRegistry{
		host:   l.Addr().String(),
		server: &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), ReadHeaderTimeout: 10 * time.Second},
	}
	go func() { _ = r.server.Serve(l) }()
	layer, err := busyboxLayer()
	if err != nil {
		r.stop()
		return nil, err
	}
	busybox, err := busyboxImage(layer, nil)
	if err != nil {
		r.stop()
		return nil, err
	}
	pause, err := busyboxImage(layer, []string{"/bin/sleep", "2147483647"})
	if err != nil {
		r.stop()
		return nil, err
	}
	for repo, img := range map[string]v1.Image{BusyboxImage: busybox, PauseImage: pause} {
		if err := r.push(repo+":"+ImageTag, img); err != nil {
			r.stop()
			return nil, err
		}
	}
	return r, nil
}

// push stores img in the registry under ref (repository:tag).
func (r *imageRegistry) push(ref string, img v1.Image) error {
	tag, err := name.NewTag(r.host+"/"+ref, name.Insecure)
	if err != nil {
		return err
	}
	if err := remote.Write(tag, img); err != nil {
		return fmt.Errorf("pushing %s: %w", tag, err)
	}
	return nil
}

func (r *imageRegistry) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.server.Shutdown(ctx)
}

// busyboxImage is the busybox layer with an entrypoint. The config names
// os and architecture: containerd filters out images whose platform it
// cannot match.
func busyboxImage(layer v1.Layer, entrypoint []string) (v1.Image, error) {
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		OS:           "linux",
		Architecture: runtime.GOARCH,
		Config: v1.Config{
			Entrypoint: entrypoint,
			Env:        []string{"PATH=/bin"},
		},
	})
	if err != nil {
		return nil, err
	}
	return mutate.AppendLayers(img, layer)
}

// busyboxLayer is /bin/busybox, a symlink per applet, an empty
// world-writable /tmp and an /etc/passwd.
func busyboxLayer() (v1.Layer, error) {
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return nil, fmt.Errorf("the test images are built from Debian's busybox-static (make testbin installs it): %w", err)
	}
	list, err := exec.Command(busyboxPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busyboxPath, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// A fixed time: the same busybox gives the same image digest.
	epoch := time.Unix(0, 0)
	dirs := []*tar.Header{
		{Name: "bin/", Mode: 0o755},
		{Name: "tmp/", Mode: 0o1777},
		{Name: "etc/", Mode: 0o755},
	}
	for _, h := range dirs {
		h.Typeflag, h.ModTime = tar.TypeDir, epoch
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg, ModTime: epoch}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(bin); err != nil {
		return nil, err
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: "bin/" + applet, Linkname: "busybox", Typeflag: tar.TypeSymlink, Mode: 0o777, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	// nobody, for images run as a non-root user that want a name.
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
	if err := tw.WriteHeader(&tar.Header{Name: "etc/passwd", Mode: 0o644, Size: int64(len(passwd)), Typeflag: tar.TypeReg, ModTime: epoch}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(passwd); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	if len(data) == 0 {
		return nil, errors.New("empty busybox layer")
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

// PushHostImage pushes repo:ImageTag to the real node's registry: the
// busybox image with host files added at the same paths, with the shared
// libraries they load (Debian's runc loads libseccomp), and
// PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin, and entrypoint. It returns
// the image's reference. binaries maps a path in the image to the host
// file.
func (c *Cluster) PushHostImage(repo string, binaries map[string]string, entrypoint ...string) (string, error) {
	if c.node == nil {
		return "", errors.New("no real node, no registry")
	}
	files := map[string]string{}
	for dst, src := range binaries {
		files[dst] = src
		libs, err := sharedLibraries(src)
		if err != nil {
			return "", err
		}
		for _, lib := range libs {
			files[lib] = lib
		}
	}
	base, err := busyboxLayer()
	if err != nil {
		return "", err
	}
	extra, err := filesLayer(files)
	if err != nil {
		return "", err
	}
	img, err := busyboxImage(base, entrypoint)
	if err != nil {
		return "", err
	}
	if img, err = mutate.AppendLayers(img, extra); err != nil {
		return "", err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cfg = cfg.DeepCopy()
	cfg.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/usr/sbin:/bin"}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return "", err
	}
	ref := repo + ":" + ImageTag
	if err := c.node.registry.push(ref, img); err != nil {
		return "", err
	}
	return c.Registry + "/" + ref, nil
}

// sharedLibraries lists the libraries a dynamically linked binary loads,
// as ldd resolves them ("" for a static one).
func sharedLibraries(binary string) ([]string, error) {
	out, err := exec.Command("ldd", binary).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a dynamic executable") {
			return nil, nil
		}
		return nil, fmt.Errorf("ldd %s: %v: %s", binary, err, out)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				libs = append(libs, f)
			}
		}
	}
	return libs, nil
}

// filesLayer is a layer of host files (image path → host path), with
// the directories above them.
func filesLayer(files map[string]string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dirs := map[string]bool{}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, dst := range paths {
		rel := strings.TrimPrefix(dst, "/")
		for d := path.Dir(rel); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	dirList := make([]string, 0, len(dirs))
	for d := range dirs {
		dirList = append(dirList, d)
	}
	sort.Strings(dirList)
	for _, d := range dirList {
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Mode: 0o755, Typeflag: tar.TypeDir, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	for _, dst := range paths {
		data, err := os.ReadFile(files[dst])
		if err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(dst, "/"), Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

// PushStaticImage pushes repo:ImageTag to the real node's registry: a
// scratch image of one static binary at /<its base name>, its entrypoint,
// run as user 65532 and nothing else in it — no shell, as in a
// distroless image. It returns the image's repository and digest.
func (c *Cluster) PushStaticImage(repo, binary string) (image, digest string, err error) {
	if c.node == nil {
		return "", "", errors.New("no real node, no registry")
	}
	libs, err := sharedLibraries(binary)
	if err != nil {
		return "", "", err
	}
	if len(libs) > 0 {
		return "", "", fmt.Errorf("%s is not static: it loads %v", binary, libs)
	}
	entrypoint := "/" + path.Base(binary)
	layer, err := filesLayer(map[string]string{entrypoint: binary})
	if err != nil {
		return "", "", err
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		OS:           "linux",
		Architecture: runtime.GOARCH,
		Config:       v1.Config{Entrypoint: []string{entrypoint}, User: "65532:65532"},
	})
	if err != nil {
		return "", "", err
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return "", "", err
	}
	if err := c.node.registry.push(repo+":"+ImageTag, img); err != nil {
		return "", "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", "", err
	}
	return c.Registry + "/" + repo, d.String(), nil
}

// PushImage pushes an image to the node's registry as repo:ImageTag and
// returns its repository and digest.
func (c *Cluster) PushImage(repo string, img v1.Image) (image, digest string, err error) {
	if c.node == nil {
		return "", "", errors.New("no real node, no registry")
	}
	if err := c.node.registry.push(repo+":"+ImageTag, img); err != nil {
		return "", "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", "", err
	}
	return c.Registry + "/" + repo, d.String(), nil
}
