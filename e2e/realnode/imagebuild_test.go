package realnode

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

// readReport reads a run's --report.
func readReport(t *testing.T, path string) runner.Report {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r runner.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return r
}

// A Dockerfile of three steps in a base stage and one in the test stage:
// the test stage's image bakes the source file in, and the build reads
// what only that build could have baked.
func layeredDockerfile() string {
	return fromBusybox() + ` AS base
RUN mkdir -p /app && echo base layer > /app/base.txt
COPY src/ /src/
RUN cat /src/app.txt /app/base.txt > /app/baked.txt

FROM base AS test
RUN echo test stage >> /app/baked.txt

FROM base AS production
RUN echo production stage >> /app/baked.txt
`
}

// envgen run builds the image from the repository first, then runs the
// ci build in exactly that image, by digest: the build reads a file only
// that build baked in, and the kubelet's imageID is the digest built.
// Again with no change, every step comes from the daemon's cache; with
// one source file changed, only the steps from its COPY on are rebuilt.
func TestBuildThenRunTheImageBuilt(t *testing.T) {
	addr := daemon(t, "buildkitd")
	stamp := time.Now().Format("150405.000000")
	dir := repo(t, "img-run", `target: "test"`, `command: ["cat", "/app/baked.txt"]`, map[string]string{
		"Dockerfile":  layeredDockerfile(),
		"src/app.txt": "source " + stamp + "\n",
	})
	runBuild := func(id string) (e2ekit.Result, runner.Report) {
		t.Helper()
		report := filepath.Join(t.TempDir(), "report.json")
		r := run(t, "run", "--buildkit", addr, "--build-id", id, "--report", report, dir)
		e2ekit.WantCode(t, r, 0)
		return r, readReport(t, report)
	}

	r, rep := runBuild("img-run-1")
	for _, line := range []string{"source " + stamp + "\n", "base layer\n", "test stage\n"} {
		e2ekit.WantContains(t, "the build's log", r.Stdout, line)
	}
	if strings.Contains(r.Stdout, "production stage") {
		t.Error("the ci build ran the production stage's image")
	}
	img := rep.Image
	if img == nil || !strings.HasPrefix(img.Digest, "sha256:") {
		t.Fatalf("report's image: %+v", img)
	}
	if !img.Checked || runner.Digest(img.RanAs) != img.Digest {
		t.Errorf("the kubelet ran %q; the build made %s (checked %v)", img.RanAs, img.Digest, img.Checked)
	}
	if img.Image != cluster.Registry+"/img-run:envgen-img-run-1" {
		t.Errorf("pushed as %s", img.Image)
	}
	if img.Steps != 4 || img.Cached != 0 {
		t.Errorf("cold build: %d steps, %d cached; want 4 and 0", img.Steps, img.Cached)
	}
	if rep.ImageBuildSeconds <= 0 || rep.Phases[1].Name != runner.PhaseImage {
		t.Errorf("phases %+v, image build %.3fs", rep.Phases, rep.ImageBuildSeconds)
	}
	e2ekit.WantContains(t, "stderr", r.Stderr, "image "+cluster.Registry+"/img-run@"+img.Digest)

	_, warm := runBuild("img-run-2")
	if warm.Image.Cached != 4 || warm.Image.Digest != img.Digest {
		t.Errorf("no change: %d of %d steps cached, digest %s (was %s); want all, the same image", warm.Image.Cached, warm.Image.Steps, warm.Image.Digest, img.Digest)
	}

	if err := os.WriteFile(filepath.Join(dir, "src/app.txt"), []byte("changed "+stamp+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, changed := runBuild("img-run-3")
	e2ekit.WantContains(t, "the build's log", r.Stdout, "changed "+stamp+"\n")
	if changed.Image.Cached != 1 || changed.Image.Steps != 4 {
		t.Errorf("one file changed: %d of %d steps cached; want only the step before its COPY", changed.Image.Cached, changed.Image.Steps)
	}
}
