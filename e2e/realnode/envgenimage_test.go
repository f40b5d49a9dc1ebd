package realnode

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/internal/envgenimage"
)

// TestEnvgenImageRunsOnARealNode runs envgen's own image (make image) as a
// CI build on the real node — non-root, read-only root filesystem, the
// restricted profile — vetting an envgen.cue from the build's config
// files: the evaluating child (a re-exec of the binary under an address
// space limit) works in it, and vet's exit code and findings come back
// through envgen run.
func TestEnvgenImageRunsOnARealNode(t *testing.T) {
	binary := filepath.Join(t.TempDir(), "envgen")
	build := exec.Command("go", "build", "-trimpath", "-o", binary, "envgen.dev/envgen/cmd/envgen")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building envgen: %v\n%s", err, out)
	}
	img, err := envgenimage.Build(binary, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	image, digest, err := cluster.PushImage("envgen", img)
	if err != nil {
		t.Fatal(err)
	}
	// An envgen.cue with a newcomer's mistake, for vet to find.
	inner := "name: \"inner\"\nimage: \"registry.example.org/inner\"\ntag: \"1\"\nreplica: 2\n"
	dir := t.TempDir()
	writeFile(t, dir, fmt.Sprintf(`name: "self"
%s
securityContext: runAsUser: 1000
files: "/config/envgen.cue": %q
ci: {image: %q, digest: %q, timeout: "5m", command: ["/envgen", "vet", "/config"]}
`, busybox(), inner, image, digest))
	r := run(t, "run", "--build-id", "image-1", dir)
	e2ekit.WantCode(t, r, 1)
	e2ekit.WantContains(t, "stdout", r.Stdout, "replica: field not allowed: did you mean replicas?")
}
