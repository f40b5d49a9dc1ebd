package realnode

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"envgen.dev/envgen/imagebuild"
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
	dir := repo(t, "img-run", `target: "test"`, fmt.Sprintf(`command: ["cat", "/app/baked.txt"]
	services: cache: {
		%s
		command: ["sleep", "600"]
		securityContext: runAsUser: 1000
		readiness: exec: command: ["true"]
	}`, busybox()), map[string]string{
		// Its own first step: a cold build is cold whatever ran before.
		"Dockerfile":  strings.Replace(layeredDockerfile(), "echo base layer", "echo base layer "+stamp, 1),
		"src/app.txt": "source " + stamp + "\n",
	})
	commit := gitCommitAll(t, dir)
	junit := filepath.Join(t.TempDir(), "junit.xml")
	runBuild := func(id string) (e2ekit.Result, runner.Report) {
		t.Helper()
		report := filepath.Join(t.TempDir(), "report.json")
		r := run(t, "run", "--buildkit", addr, "--build-id", id, "--report", report, "--junit", junit, dir)
		e2ekit.WantCode(t, r, 0)
		return r, readReport(t, report)
	}

	r, rep := runBuild("img-run-1")
	// What ran, for whoever promotes it: the commit, every container's
	// image as the kubelet reported it, in the report and in JUnit.
	if rep.Commit != commit {
		t.Errorf("report's commit %q, want the checkout's %s", rep.Commit, commit)
	}
	ran := map[string]string{}
	for _, c := range rep.Containers {
		ran[c.Container] = c.ImageID
	}
	if runner.Digest(ran["cache"]) == "" || runner.Digest(ran["build"]) != rep.Image.Digest {
		t.Errorf("containers ran %v; want the test service's and the build's, the latter the image built", ran)
	}
	junitXML, _ := os.ReadFile(junit)
	for _, want := range []string{`<property name="commit" value="` + commit + `">`, `<property name="image" value="` + cluster.Registry + `/img-run@` + rep.Image.Digest + `">`, `name="ran img-run-ci-build/build"`} {
		e2ekit.WantContains(t, "JUnit", string(junitXML), want)
	}
	for _, line := range []string{"source " + stamp + "\n", "base layer " + stamp + "\n", "test stage\n"} {
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
	if !strings.HasPrefix(img.Image, cluster.Registry+"/img-run:envgen-") || !strings.HasSuffix(img.Image, "-img-run-1") {
		t.Errorf("pushed as %s", img.Image)
	}
	if img.Steps != 4 || img.Cached != 0 {
		t.Errorf("cold build: %d steps, %d cached; want 4 and 0", img.Steps, img.Cached)
	}
	// The image builds while the namespace is made and the test service
	// starts: its phase is what the run waited for it after them.
	names := []string{}
	for _, p := range rep.Phases {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); !strings.HasPrefix(got, "compile,namespace+apply,services ready,image build,pod scheduled") || img.Seconds <= 0 {
		t.Errorf("phases %s, the image built in %.3fs", got, img.Seconds)
	}
	e2ekit.WantContains(t, "stderr", r.Stderr, "image "+cluster.Registry+"/img-run@"+img.Digest)

	_, warm := runBuild("img-run-2")
	// The index differs (its provenance names each build); the image in
	// it is the same.
	before, after := platformImage(t, registryRepoOf(img.Image)+"@"+img.Digest), platformImage(t, registryRepoOf(warm.Image.Image)+"@"+warm.Image.Digest)
	if warm.Image.Cached != 4 || before != after {
		t.Errorf("no change: %d of %d steps cached, image %s (was %s); want all, the same image", warm.Image.Cached, warm.Image.Steps, after, before)
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

// What a repository gets wrong fails the run before a build Pod exists,
// with the repository's own words: a Dockerfile error at its line (1), a
// failing RUN with its exit code and its output, a link out of the
// repository named (1); the namespace made meanwhile is gone.
func TestImageBuildFailures(t *testing.T) {
	addr := daemon(t, "buildkitd")
	for _, tc := range []struct {
		name       string
		dockerfile string
		files      map[string]string
		code       int
		stderr     []string
	}{{
		name:       "dockerfile syntax",
		dockerfile: fromBusybox() + "\nCOPY src/ /src/\nRUNN make\n",
		code:       1,
		stderr:     []string{"image build: Dockerfile:3: ", "unknown instruction: RUNN"},
	}, {
		name:       "failing run",
		dockerfile: fromBusybox() + "\nRUN echo about to fail && exit 7\n",
		code:       7,
		stderr:     []string{" about to fail\n", "Dockerfile:2: step [2/2] RUN echo about to fail && exit 7 failed: exit code 7"},
	}, {
		name:       "link out of the repository",
		dockerfile: fromBusybox() + "\nCOPY src/ /src/\n",
		files:      map[string]string{"src/leak": "->/etc/shadow"},
		code:       1,
		stderr:     []string{`src/leak: a link to "/etc/shadow", outside the build context`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			name := "img-fail-" + strings.ReplaceAll(strings.Split(tc.name, " ")[0], "dockerfile", "df")
			files := map[string]string{"Dockerfile": tc.dockerfile, "src/app.txt": "x\n"}
			dir := repo(t, name, "", `command: ["true"]`, files)
			for p, content := range tc.files {
				if target, ok := strings.CutPrefix(content, "->"); ok {
					if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
						t.Fatal(err)
					}
				}
			}
			report := filepath.Join(t.TempDir(), "report.json")
			r := run(t, "run", "--buildkit", addr, "--build-id", name, "--report", report, dir)
			e2ekit.WantCode(t, r, tc.code)
			for _, s := range tc.stderr {
				e2ekit.WantContains(t, "stderr", r.Stderr, s)
			}
			rep := readReport(t, report)
			if rep.ExitCodeFrom != "image build" || rep.Outcome != "failed" || rep.ExitCode != tc.code {
				t.Errorf("report: exit %d from %q, outcome %q", rep.ExitCode, rep.ExitCodeFrom, rep.Outcome)
			}
			if strings.Contains(r.Stderr, "shadow:") || strings.Contains(r.Stderr, "root:") {
				t.Error("the output shows what the link points at")
			}
			// The namespace may have been made while the image built: it
			// is gone.
			e2ekit.NamespaceGone(t, cluster.Client, runner.NamespaceName(name, name))
		})
	}
}

// A build secret reaches its RUN step (which checks its length and even
// prints it) and nothing else: not a layer of the image, not its
// history, not the registry cache, not the log, not the report.
func TestBuildSecretStaysOutOfTheImage(t *testing.T) {
	addr := daemon(t, "buildkitd")
	secret := "s3cr3t-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	dir := repo(t, "img-secret", `secrets: ["registry-token"]`, `command: ["cat", "/app/token-length"]`, map[string]string{
		"Dockerfile": fromBusybox() + `
RUN --mount=type=secret,id=registry-token mkdir -p /app && wc -c < /run/secrets/registry-token > /app/token-length && echo "printed: $(cat /run/secrets/registry-token)"
`,
	})
	report := filepath.Join(t.TempDir(), "report.json")
	cmd := []string{"run", "--buildkit", addr, "--build-id", "img-secret-1", "--report", report, "--build-secret", "registry-token=env:REGISTRY_TOKEN", dir}
	t.Setenv("REGISTRY_TOKEN", secret)
	r := run(t, cmd...)
	e2ekit.WantCode(t, r, 0)
	e2ekit.WantContains(t, "the build's log", r.Stdout, strconv.Itoa(len(secret))+"\n")
	e2ekit.WantContains(t, "the image build's log", r.Stderr, "printed: ****")
	data, _ := os.ReadFile(report)
	for what, text := range map[string]string{"stdout": r.Stdout, "stderr": r.Stderr, "report": string(data)} {
		if strings.Contains(text, secret) {
			t.Errorf("the secret is in %s", what)
		}
	}
	rep := readReport(t, report)
	for _, ref := range []string{rep.Image.Image, cluster.Registry + "/img-secret:" + imagebuild.UntrustedCacheTag} {
		if where := findInRegistry(t, ref, secret); where != "" {
			t.Errorf("the secret is in %s: %s", ref, where)
		}
	}
}

// SIGTERM while BuildKit runs a step: envgen cancels the build on the
// daemon and exits 143 within a second or two, and the step's process is
// gone from the machine.
func TestSIGTERMCancelsTheImageBuild(t *testing.T) {
	addr := daemon(t, "buildkitd")
	const marker = "2718"
	dir := repo(t, "img-term", "", `command: ["true"]`, map[string]string{
		"Dockerfile": fromBusybox() + "\nRUN echo long step started; sleep " + marker + "\n",
	})
	cmd := exec.Command(envgen, "run", "--buildkit", addr, "--build-id", "img-term-1", dir)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig, "BUILD_TAG=")
	var stderr e2ekit.LockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(stderr.String(), "long step started") || len(buildProcesses(marker)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the step did not start in 60s:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	took := time.Since(signalled)
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 143 {
		t.Fatalf("envgen ended with %v, want exit code 143:\n%s", err, stderr.String())
	}
	t.Logf("exited %s after SIGTERM", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("exited %s after SIGTERM: the build was not cancelled promptly", took)
	}
	deadline = time.Now().Add(15 * time.Second)
	for len(buildProcesses(marker)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the step's process still runs 15s after envgen exited: %v", buildProcesses(marker))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// gitCommitAll makes dir a git repository with one commit of everything
// in it, and returns the commit.
func gitCommitAll(t *testing.T, dir string) string {
	t.Helper()
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"-c", "user.name=test", "-c", "user.email=test@example.org", "commit", "-q", "-m", "test"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// An image build that fails while a test service starts (one that never
// gets ready, here) ends the run at once with the build's own exit code:
// the wait for the service stops, the namespace goes.
func TestImageBuildFailureStopsTheServicesWait(t *testing.T) {
	addr := daemon(t, "buildkitd")
	dir := repo(t, "img-fail-wait", "", fmt.Sprintf(`command: ["true"]
	services: never: {
		%s
		command: ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
		securityContext: runAsUser: 1000
		readiness: exec: command: ["false"]
	}`, busybox()), map[string]string{
		"Dockerfile": fromBusybox() + "\nRUN sleep 2; echo failing late && exit 9\n",
	})
	r := run(t, "run", "--buildkit", addr, "--build-id", "img-fail-wait", dir)
	e2ekit.WantCode(t, r, 9)
	e2ekit.WantContains(t, "stderr", r.Stderr, "failing late")
	t.Logf("envgen run took %s", r.Took.Round(time.Millisecond))
	if r.Took > 30*time.Second {
		t.Errorf("took %s: the run waited for the service", r.Took)
	}
	e2ekit.NamespaceGone(t, cluster.Client, runner.NamespaceName("img-fail-wait", "img-fail-wait"))
}
