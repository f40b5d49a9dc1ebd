package realnode

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	bkclient "github.com/moby/buildkit/client"

	"envgen.dev/envgen/imagebuild"
	"envgen.dev/envgen/internal/e2ekit"
)

// tagExists says whether the registry has repo:tag.
func tagExists(t *testing.T, repo, tag string) bool {
	t.Helper()
	ref, err := name.NewTag(repo+":"+tag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Head(ref)
	return err == nil
}

// A pull request's build cannot leave anything a trusted build reads. The
// Dockerfile's one step writes a random id, so a step result that crossed
// over would show as the same id. The pull request's build (on the
// untrusted daemon) writes the untrusted cache only; the trusted build
// (envgen image --trusted, on the trusted daemon) makes its own id
// although the untrusted cache holds the same step, and writes the
// trusted cache; each daemon refuses the other kind of build.
func TestUntrustedBuildsCannotPoisonTrustedOnes(t *testing.T) {
	untrusted := daemon(t, "buildkitd")
	trusted := daemon(t, "buildkitd-trusted", "--trusted")
	dir := repo(t, "img-trust", "", `command: ["cat", "/app/id"]`, map[string]string{
		"Dockerfile": fromBusybox() + "\nRUN mkdir -p /app && cat /proc/sys/kernel/random/uuid > /app/id\n",
	})
	registryRepo := cluster.Registry + "/img-trust"

	r := run(t, "run", "--buildkit", untrusted, "--build-id", "img-trust-pr", dir)
	e2ekit.WantCode(t, r, 0)
	prID := strings.TrimSpace(r.Stdout)
	if len(prID) != 36 {
		t.Fatalf("the pull request's build printed %q, want an id", r.Stdout)
	}
	if !tagExists(t, registryRepo, imagebuild.UntrustedCacheTag) || tagExists(t, registryRepo, imagebuild.TrustedCacheTag) {
		t.Fatalf("after a pull request's build: untrusted cache %v, trusted cache %v; want only the untrusted one",
			tagExists(t, registryRepo, imagebuild.UntrustedCacheTag), tagExists(t, registryRepo, imagebuild.TrustedCacheTag))
	}

	img := run(t, "image", "--env", "ci", "--trusted", "--buildkit", trusted, "--build-id", "img-trust-main", dir)
	e2ekit.WantCode(t, img, 0)
	ref := strings.TrimSpace(img.Stdout)
	if !strings.HasPrefix(ref, registryRepo+"@sha256:") {
		t.Fatalf("envgen image printed %q, want the image by digest", img.Stdout)
	}
	if id := strings.TrimSpace(fileInImage(t, ref, "/app/id")); id == prID {
		t.Errorf("the trusted build's image has the pull request's step result (%s)", id)
	}
	if !tagExists(t, registryRepo, imagebuild.TrustedCacheTag) {
		t.Error("the trusted build wrote no trusted cache")
	}
	e2ekit.WantContains(t, "stderr", img.Stderr, "importing cache manifest from "+registryRepo+":"+imagebuild.TrustedCacheTag)
	if strings.Contains(img.Stderr, imagebuild.UntrustedCacheTag) {
		t.Errorf("the trusted build touched the untrusted cache:\n%s", img.Stderr)
	}

	// Each daemon is for one kind of build (2).
	wrong := run(t, "image", "--env", "ci", "--buildkit", trusted, "--build-id", "img-trust-wrong", dir)
	e2ekit.WantCode(t, wrong, 2)
	e2ekit.WantContains(t, "stderr", wrong.Stderr, "this daemon is for trusted builds only")
	wrong = run(t, "image", "--env", "ci", "--trusted", "--buildkit", untrusted, "--build-id", "img-trust-wrong", dir)
	e2ekit.WantCode(t, wrong, 2)
	e2ekit.WantContains(t, "stderr", wrong.Stderr, "a trusted build needs a daemon for trusted builds only")
}

// The daemon's GC keeps its disk under the bound envgen buildkit set:
// builds that each add a fresh 8 MB layer take its cache past 40 MiB, and
// a sweep after them brings it back under.
func TestDaemonGCBoundsItsDisk(t *testing.T) {
	const bound = 40 << 20
	addr := daemon(t, "buildkitd-gc", "--max-used-space", "40Mi")
	client, _, err := imagebuild.Connect(t.Context(), addr, cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	dir := repo(t, "img-gc", `args: ROUND: "0"`, `command: ["true"]`, map[string]string{
		"Dockerfile": fromBusybox() + "\nARG ROUND\nRUN head -c 8000000 /dev/urandom > /blob-$ROUND\n",
	})
	peak := int64(0)
	for round := 1; round <= 10; round++ {
		src := readFile(t, dir)
		writeFile(t, dir, strings.Replace(src, `ROUND: "`+strconv.Itoa(round-1)+`"`, `ROUND: "`+strconv.Itoa(round)+`"`, 1))
		r := run(t, "image", "--env", "ci", "--buildkit", addr, "--build-id", "img-gc-"+strconv.Itoa(round), dir)
		e2ekit.WantCode(t, r, 0)
		if used := diskUsage(t, client); used > peak {
			peak = used
		}
	}
	t.Logf("after 10 builds: %d MiB at most (bound %d MiB)", peak>>20, bound>>20)
	if peak <= bound {
		t.Fatalf("the cache never passed its bound (%d bytes): the test shows nothing", peak)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		used := diskUsage(t, client)
		if used <= bound {
			t.Logf("GC brought it to %d MiB", used>>20)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache still uses %d bytes 3 minutes after the last build, bound %d", used, bound)
		}
		time.Sleep(2 * time.Second)
	}
}

// diskUsage is what the daemon's cache holds, as buildctl du totals it.
func diskUsage(t testing.TB, c *bkclient.Client) int64 {
	t.Helper()
	records, err := c.DiskUsage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, r := range records {
		total += r.Size
	}
	return total
}

// The CI account holds only what envgen rbac --buildkit prints: a
// port-forward to the pull requests' daemon Pod, nothing else in its
// namespace (kubectl auth can-i, as the account). With that, it builds
// and runs; the trusted daemon is out of its reach.
func TestImageBuildWithLeastPrivilege(t *testing.T) {
	addr := daemon(t, "buildkitd")
	kubeconfig := leastPrivilege(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "pods/buildkitd-0", "--subresource=portforward"}, "yes"},
		{[]string{"get", "pods/buildkitd-0", "--subresource=portforward"}, "yes"},
		{[]string{"create", "pods/buildkitd-trusted-0", "--subresource=portforward"}, "no"},
		{[]string{"get", "secrets"}, "no"},
		{[]string{"delete", "statefulsets/buildkitd"}, "no"},
	} {
		out, _ := e2ekit.Kubectl(cluster, kubeconfig, append([]string{"auth", "can-i", "-n", buildkitNamespace}, tc.args...)...)
		if got := strings.TrimSpace(out); got != tc.want {
			t.Errorf("can-i %s in %s: %s, want %s", strings.Join(tc.args, " "), buildkitNamespace, got, tc.want)
		}
	}
	// The account's Pods, exec and ConfigMaps are bound in its build
	// namespaces only, so RBAC refuses them in the daemon's; deleting a
	// namespace is cluster-wide, and the admission guard refuses it.
	for _, attempt := range []struct {
		args []string
		want string
	}{
		{[]string{"exec", "buildkitd-0", "--", "true"}, "forbidden"},
		{[]string{"run", "intruder", "--image", buildkitImage, "--dry-run=server"}, "forbidden"},
		{[]string{"patch", "configmap", "buildkitd", "-p", `{"data":{"x":"y"}}`, "--dry-run=server"}, "forbidden"},
		{[]string{"delete", "namespace", buildkitNamespace, "--dry-run=server"}, "envgen may"},
	} {
		out, err := e2ekit.Kubectl(cluster, kubeconfig, append([]string{"-n", buildkitNamespace}, attempt.args...)...)
		if err == nil || !strings.Contains(out, attempt.want) {
			t.Errorf("kubectl %s as the CI account: %v\n%s\nwant it refused: %q", strings.Join(attempt.args, " "), err, out, attempt.want)
		}
	}
	// envgen gc never takes the daemon's namespace for a build's.
	gc := run(t, "gc", "--older-than", "1s", "--dry-run")
	e2ekit.WantCode(t, gc, 0)
	if strings.Contains(gc.Stdout, buildkitNamespace+" ") {
		t.Errorf("envgen gc would delete the daemon's namespace:\n%s", gc.Stdout)
	}
	dir := repo(t, "img-rbac", "", `command: ["cat", "/app/built"]`, map[string]string{
		"Dockerfile": fromBusybox() + "\nRUN mkdir -p /app && echo built by the least privileged > /app/built\n",
	})
	r := e2ekit.Run(t, envgen, kubeconfig, "run", "--buildkit", addr, "--build-id", "img-rbac-1", dir)
	e2ekit.WantCode(t, r, 0)
	e2ekit.WantContains(t, "the build's log", r.Stdout, "built by the least privileged\n")

	trusted := strings.Replace(addr, "buildkitd-0", "buildkitd-trusted-0", 1)
	r = e2ekit.Run(t, envgen, kubeconfig, "image", "--env", "ci", "--trusted", "--buildkit", trusted, "--build-id", "img-rbac-2", dir)
	e2ekit.WantCode(t, r, 125)
	e2ekit.WantContains(t, "stderr", r.Stderr, "reaching the BuildKit daemon at Pod buildkit/buildkitd-trusted-0")
	e2ekit.WantContains(t, "stderr", r.Stderr, "forbidden")
}

// The registry cache (mode=max) serves any daemon: a second daemon, with
// an empty cache of its own, builds what the first built with every step
// from the registry.
func TestRegistryCacheServesAnotherDaemon(t *testing.T) {
	first := daemon(t, "buildkitd")
	second := daemon(t, "buildkitd-replica")
	// Steps of its own: another test's steps are in the first daemon's
	// cache already.
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	dir := repo(t, "img-replica", "", `command: ["true"]`, map[string]string{
		"Dockerfile":  strings.Replace(layeredDockerfile(), "echo base layer", "echo base layer "+stamp, 1),
		"src/app.txt": "replica " + stamp + "\n",
	})
	steps := func(r e2ekit.Result) string {
		t.Helper()
		e2ekit.WantCode(t, r, 0)
		i := strings.Index(r.Stderr, "envgen: built ")
		if i < 0 {
			t.Fatalf("no summary:\n%s", r.Stderr)
		}
		return strings.SplitN(r.Stderr[i:], "\n", 2)[0]
	}
	cold := steps(run(t, "image", "--env", "ci", "--buildkit", first, "--build-id", "img-replica-1", dir))
	if !strings.Contains(cold, ": 0 of 4 steps from the cache") {
		t.Errorf("first daemon: %s", cold)
	}
	other := steps(run(t, "image", "--env", "ci", "--buildkit", second, "--build-id", "img-replica-2", dir))
	if !strings.Contains(other, ": 4 of 4 steps from the cache") {
		t.Errorf("second daemon, empty cache: %s; want every step from the registry cache", other)
	}
}

// The release flow, from a pull request to production: the pull
// request's run passes (its report names the commit); after merge the
// production stage is built on the trusted daemon; envgen promote checks
// BuildKit's own provenance and the report and pins it; envgen generate
// puts exactly that digest into the production overlay. The pull
// request's image, and an image of another commit, are refused.
func TestPromoteTheTestedImage(t *testing.T) {
	untrusted := daemon(t, "buildkitd")
	trusted := daemon(t, "buildkitd-trusted", "--trusted")
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	dir := repo(t, "img-promote", `target: "production"`, `command: ["cat", "/app/baked.txt"]`, map[string]string{
		"Dockerfile":  strings.Replace(layeredDockerfile(), "echo base layer", "echo base layer "+stamp, 1),
		"src/app.txt": "promote " + stamp + "\n",
	})
	writeFile(t, dir, readFile(t, dir)+"environments: ci: build: target: \"test\"\n")
	commit := gitCommitAll(t, dir)
	report := filepath.Join(t.TempDir(), "report.json")

	e2ekit.WantCode(t, run(t, "run", "--buildkit", untrusted, "--build-id", "pr-12", "--report", report, dir), 0)
	pr := readReport(t, report)
	img := run(t, "image", "--env", "production", "--trusted", "--buildkit", trusted, "--build-id", "main-12", dir)
	e2ekit.WantCode(t, img, 0)
	image := strings.TrimSpace(img.Stdout)

	// The pull request's image is never promoted.
	refused := run(t, "promote", "--env", "production", "--image", registryRepoOf(pr.Image.Image)+"@"+pr.Image.Digest, "--report", report, dir)
	e2ekit.WantCode(t, refused, 1)
	e2ekit.WantContains(t, "stderr", refused.Stderr, "#untrusted\", not by a daemon for trusted builds")

	promoted := run(t, "promote", "--env", "production", "--image", image, "--report", report, dir)
	e2ekit.WantCode(t, promoted, 0)
	e2ekit.WantContains(t, "stdout", promoted.Stdout, "built from "+commit+" by kube-pod://buildkitd-trusted-0?namespace=buildkit")
	e2ekit.WantContains(t, "stdout", promoted.Stdout, "tested by run pr-12")
	e2ekit.WantCode(t, run(t, "generate", "--allow-findings", dir), 0)
	overlay, err := os.ReadFile(filepath.Join(dir, "deploy", "overlays", "production", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	digest := image[strings.Index(image, "@")+1:]
	if !strings.Contains(string(overlay), digest) {
		t.Errorf("the production overlay does not pin %s:\n%s", digest, overlay)
	}
	staging, err := os.ReadFile(filepath.Join(dir, "deploy", "overlays", "staging", "kustomization.yaml"))
	if err == nil && strings.Contains(string(staging), digest) {
		t.Error("staging got production's promotion")
	}

	// A new commit: its image is not what the old commit's run tested.
	if err := os.WriteFile(filepath.Join(dir, "src", "app.txt"), []byte("next "+stamp+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	next := gitCommitAll(t, dir)
	img = run(t, "image", "--env", "production", "--trusted", "--buildkit", trusted, "--build-id", "main-13", dir)
	e2ekit.WantCode(t, img, 0)
	stale := run(t, "promote", "--env", "production", "--image", strings.TrimSpace(img.Stdout), "--report", report, dir)
	e2ekit.WantCode(t, stale, 1)
	e2ekit.WantContains(t, "stderr", stale.Stderr, "was built from "+next+", not from commit "+commit)
}

// A node that has an image already names it by the first reference it
// pulled it as: the same code built for another service's repository runs
// as that repository's digest, and the run still knows it ran the image
// it built.
func TestTheImageBuiltRunsUnderAnotherName(t *testing.T) {
	addr := daemon(t, "buildkitd")
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	files := map[string]string{"Dockerfile": fromBusybox() + "\nRUN echo same image " + stamp + " > /same\n"}
	var reports []string
	for _, name := range []string{"img-same-a", "img-same-b"} {
		dir := repo(t, name, "", `command: ["cat", "/same"]`, map[string]string{"Dockerfile": files["Dockerfile"]})
		report := filepath.Join(t.TempDir(), "report.json")
		r := run(t, "run", "--buildkit", addr, "--build-id", name, "--report", report, dir)
		e2ekit.WantCode(t, r, 0)
		reports = append(reports, report)
	}
	b := readReport(t, reports[1]).Image
	if !b.Checked {
		t.Errorf("the second run did not check the image it ran: %+v", b)
	}
	t.Logf("built %s@%s, the node named it %s", registryRepoOf(b.Image), b.Digest, b.RanAs)
}
