package envgenimage_test

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"envgen.dev/envgen/internal/envgenimage"
)

// staticBinary builds a small static program, as make build builds envgen,
// and copies it beside itself as envgen-cluster.
func staticBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\"envgen\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.org/tiny\n\ngo 1.24\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "envgen")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if data, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, data)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, envgenimage.ClusterBinary), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImageIsReproducibleNonRootAndMinimal(t *testing.T) {
	binary := staticBinary(t)
	first, err := envgenimage.Build(binary, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	second, err := envgenimage.Build(binary, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := first.Digest()
	d2, _ := second.Digest()
	if d1 != d2 {
		t.Errorf("two builds of one binary: %s and %s", d1, d2)
	}
	config, err := first.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if config.Config.User != "65532:65532" || strings.Join(config.Config.Entrypoint, " ") != "/envgen" || config.OS != "linux" {
		t.Errorf("config: user %q, entrypoint %v, os %s", config.Config.User, config.Config.Entrypoint, config.OS)
	}
	layers, err := first.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var names []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "tmp/" && h.Mode != 0o1777 {
			t.Errorf("/tmp mode %o", h.Mode)
		}
	}
	if got := strings.Join(names, " "); got != "envgen envgen-cluster etc/ etc/group etc/passwd home/ home/envgen/ tmp/" {
		t.Errorf("files: %s", got)
	}
}

func TestWithoutClusterBinaryIsRefused(t *testing.T) {
	binary := staticBinary(t)
	if err := os.Remove(filepath.Join(filepath.Dir(binary), envgenimage.ClusterBinary)); err != nil {
		t.Fatal(err)
	}
	if _, err := envgenimage.Build(binary, runtime.GOARCH); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("without envgen-cluster: %v, want a refusal", err)
	}
}

func TestDynamicBinaryIsRefused(t *testing.T) {
	for _, candidate := range []string{"/bin/ls", "/usr/bin/env"} {
		if _, err := os.Stat(candidate); err != nil {
			continue
		}
		if _, err := envgenimage.Build(candidate, runtime.GOARCH); err == nil || !strings.Contains(err.Error(), "not static") {
			t.Errorf("%s: %v, want a refusal", candidate, err)
		}
		return
	}
	t.Skip("no dynamic binary here")
}
