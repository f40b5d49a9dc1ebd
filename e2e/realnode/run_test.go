package realnode

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

// The build's command really runs: its output is the log envgen streams,
// its exit code is envgen's.
func TestRealCommandExitCodeAndLog(t *testing.T) {
	dir := service(t, "real-exit", `command: ["sh", "-c", "echo hello from the build; echo on stderr >&2; id -u; exit 5"]`)
	r := run(t, "run", "--build-id", "exit-5", dir)
	e2ekit.WantCode(t, r, 5)
	for _, line := range []string{"hello from the build\n", "on stderr\n", "1000\n"} {
		e2ekit.WantContains(t, "stdout", r.Stdout, line)
	}
	e2ekit.WantContains(t, "stderr", r.Stderr, "build failed with exit code 5")
}

// A Secret the build reads that ci.secrets does not declare: on a real node
// the kubelet would refuse to start the container
// (CreateContainerConfigError, which kwok never shows). envgen refuses
// before it creates anything (1) and says how to fix it.
func TestUndeclaredSecretRefusedBeforeAnything(t *testing.T) {
	dir := service(t, "real-secret", `command: ["sh", "-c", "echo should not run"]
	env: TOKEN: {secret: "build-credentials", key: "token"}`)
	r := run(t, "run", "--build-id", "secret-1", dir)
	e2ekit.WantCode(t, r, 1)
	e2ekit.WantContains(t, "stderr", r.Stderr, `reads Secret "build-credentials" key "token" into TOKEN, which the build's namespace will not have`)
	ns := runner.NamespaceName("real-secret", "secret-1")
	if _, err := cluster.Client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s: %v, want not found", ns, err)
	}
}

// The build's root filesystem is read-only for real; the writable paths
// envgen.cue declares, and /tmp, are not.
func TestReadOnlyRootFilesystemAndWritablePaths(t *testing.T) {
	dir := service(t, "real-rofs", `command: ["sh", "-c", """
		if touch /root-fs-write 2>/dev/null; then echo root filesystem writable; exit 1; fi
		echo root filesystem read-only
		echo data > /tmp/t && echo /tmp writable || exit 2
		echo data > /var/cache/build/t && echo /var/cache/build writable || exit 3
		"""]`)
	src := readFile(t, dir)
	writeFile(t, dir, strings.Replace(src, "ci: {", "writable: \"/var/cache/build\": {}\nci: {", 1))
	r := run(t, "run", "--build-id", "rofs-1", dir)
	e2ekit.WantCode(t, r, 0)
	for _, line := range []string{"root filesystem read-only\n", "/tmp writable\n", "/var/cache/build writable\n"} {
		e2ekit.WantContains(t, "stdout", r.Stdout, line)
	}
}

// A tag the registry does not have: a real pull fails, and envgen fails
// fast naming the image instead of waiting out the timeout.
func TestMissingImageTagFailsFast(t *testing.T) {
	dir := service(t, "real-pull", `command: ["true"]
	tag: "no-such-tag"`)
	r := run(t, "run", "--build-id", "pull-1", dir)
	e2ekit.WantCode(t, r, 125)
	if !strings.Contains(r.Stderr, "ErrImagePull") && !strings.Contains(r.Stderr, "ImagePullBackOff") {
		t.Errorf("stderr does not name the pull error:\n%s", r.Stderr)
	}
	e2ekit.WantContains(t, "stderr", r.Stderr, "busybox:no-such-tag")
	if r.Took.Seconds() > 60 {
		t.Errorf("took %s to fail", r.Took)
	}
}

// A test service that crashes on start: the kubelet restarts it with a
// growing back-off (CrashLoopBackOff), which would wait out the timeout;
// envgen gives up after its second restart, names it and shows its log.
func TestCrashLoopingTestServiceFailsFast(t *testing.T) {
	dir := service(t, "real-crash", fmt.Sprintf(`command: ["true"]
	services: db: {
		%s
		command: ["sh", "-c", "echo cannot open the data directory; exit 3"]
		ports: pg: 5432
		readiness: tcp: port: "pg"
		securityContext: runAsUser: 999
	}`, busybox()))
	r := run(t, "run", "--build-id", "crash-1", dir)
	e2ekit.WantCode(t, r, 125)
	e2ekit.WantContains(t, "stderr", r.Stderr, "test service real-crash-db: container db is crash-looping (restarted 2 times, last exit code 3)")
	e2ekit.WantContains(t, "stderr", r.Stderr, "  cannot open the data directory\n")
	// Two back-offs, 10 s and 20 s, then the third crash: well under the
	// 5 minute timeout.
	if r.Took > 90*time.Second {
		t.Errorf("took %s to fail", r.Took)
	}
}

// An image whose user is root, in a test service without runAsUser: the
// restricted profile's runAsNonRoot makes the kubelet refuse it (kwok
// starts it). envgen fails fast and says why.
func TestRootImageWithoutRunAsUserIsRefused(t *testing.T) {
	dir := service(t, "real-root", fmt.Sprintf(`command: ["true"]
	services: cache: {
		%s
		command: ["sleep", "600"]
		ports: redis: 6379
	}`, busybox()))
	r := run(t, "run", "--build-id", "root-1", dir)
	e2ekit.WantCode(t, r, 125)
	e2ekit.WantContains(t, "stderr", r.Stderr, "test service real-root-cache: CreateContainerConfigError: container has runAsNonRoot and image will run as root")
}

// The build reads the Secrets ci.secrets declares, created by envgen run
// from an environment variable and from a file, as Jenkins'
// withCredentials hands them over; no value appears in envgen's output or
// its report.
func TestBuildReadsItsSecrets(t *testing.T) {
	dir := service(t, "real-secrets", `command: ["sh", "-c", """
		test "$TOKEN" = "tok-1f2e3d" || { echo wrong token; exit 1; }
		test "$CA" = "$(printf 'line one\\nline two')" || { echo wrong ca; exit 2; }
		test "$(cat /etc/creds/ca.pem)" = "$CA" || { echo wrong mounted ca; ls -ln /etc/creds/; exit 3; }
		test ! -e /etc/creds/token || { echo unlisted key mounted; exit 4; }
		echo secrets read
		"""]
	env: {
		TOKEN: {secret: "build-credentials", key: "token"}
		CA: {secret: "build-credentials", key: "ca.crt"}
	}
	secrets: "build-credentials": ["token", "ca.crt"]`)
	// And mounted as files: one key, readable by the build's group only
	// (fsGroup: a mode without read for others needs it).
	writeFile(t, dir, strings.Replace(readFile(t, dir), "ci: {", `mounts: "/etc/creds": {secret: "build-credentials", items: {"ca.crt": "ca.pem"}, mode: 0o440}
securityContext: fsGroup: 1000
ci: {`, 1))
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, []byte("line one\nline two"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JENKINS_TOKEN", "tok-1f2e3d")
	report := filepath.Join(t.TempDir(), "report.json")
	r := run(t, "run", "--build-id", "secrets-1", "--report", report,
		"--secret", "build-credentials/token=env:JENKINS_TOKEN", "--secret", "build-credentials/ca.crt=file:"+caFile, dir)
	e2ekit.WantCode(t, r, 0)
	e2ekit.WantContains(t, "stdout", r.Stdout, "secrets read\n")
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for what, out := range map[string]string{"stdout": r.Stdout, "stderr": r.Stderr, "report": string(data)} {
		for _, value := range []string{"tok-1f2e3d", "line one", "dG9rLTFmMmUzZA"} { // and the base64 of the token
			if strings.Contains(out, value) {
				t.Errorf("%s shows a secret value (%q):\n%s", what, value, out)
			}
		}
	}
}

// ci.artifacts come out of the real build Pod by exec (tar in its
// artifacts container) after the build, passed or failed, into
// --artifacts; --junit writes a JUnit file Jenkins can read; a path that
// is not there is a warning, not a failure.
func TestArtifactsAndJUnit(t *testing.T) {
	// The failed build runs as a ServiceAccount with only what envgen rbac
	// grants, admission guard included: exec must be allowed in envgen's
	// own namespaces.
	for _, tc := range []struct {
		name     string
		exit     int
		asLeastP bool
	}{{"passed", 0, false}, {"failed", 3, true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := service(t, "real-art-"+tc.name, fmt.Sprintf(`command: ["sh", "-c", """
				mkdir -p /tmp/reports/unit /workspace/cov
				echo '<testsuite name="unit" tests="1"/>' > /tmp/reports/unit/junit.xml
				echo 'mode: set' > /workspace/cov/coverage.out
				ln -s /etc/passwd /tmp/reports/link
				exit %d
				"""]
	artifacts: ["/tmp/reports", "/workspace/cov/coverage.out", "/tmp/never-written"]`, tc.exit))
			writeFile(t, dir, strings.Replace(readFile(t, dir), "ci: {", "writable: \"/workspace\": {}\nci: {", 1))
			out := t.TempDir()
			junit := filepath.Join(t.TempDir(), "junit.xml")
			kubeconfig := cluster.Kubeconfig
			if tc.asLeastP {
				kubeconfig = leastPrivilege(t)
			}
			r := e2ekit.Run(t, envgen, kubeconfig, "run", "--build-id", "art-1", "--artifacts", out, "--junit", junit, dir)
			e2ekit.WantCode(t, r, tc.exit)
			for file, want := range map[string]string{
				"tmp/reports/unit/junit.xml": "<testsuite name=\"unit\" tests=\"1\"/>\n",
				"workspace/cov/coverage.out": "mode: set\n",
			} {
				data, err := os.ReadFile(filepath.Join(out, file))
				if err != nil || string(data) != want {
					t.Errorf("artifact %s: %q, %v; want %q", file, data, err, want)
				}
			}
			if _, err := os.Lstat(filepath.Join(out, "tmp/reports/link")); err == nil {
				t.Error("a symlink was copied out")
			}
			e2ekit.WantContains(t, "stderr", r.Stderr, "copied 2 artifact files")
			e2ekit.WantContains(t, "stderr", r.Stderr, "/tmp/reports/link skipped")
			e2ekit.WantContains(t, "stderr", r.Stderr, "never-written")

			data, err := os.ReadFile(junit)
			if err != nil {
				t.Fatal(err)
			}
			var suite struct {
				Tests    int `xml:"tests,attr"`
				Failures int `xml:"failures,attr"`
				Cases    []struct {
					Name    string    `xml:"name,attr"`
					Failure *struct{} `xml:"failure"`
				} `xml:"testcase"`
			}
			if err := xml.Unmarshal(data, &suite); err != nil {
				t.Fatalf("junit: %v\n%s", err, data)
			}
			if wantFailures := min(tc.exit, 1); suite.Failures != wantFailures || suite.Tests != len(suite.Cases) || suite.Cases[len(suite.Cases)-1].Name != "build" {
				t.Errorf("junit: %d tests, %d failures (want %d), cases %+v:\n%s", suite.Tests, suite.Failures, wantFailures, suite.Cases, data)
			}
		})
	}
}

// A localhost test service runs in the build Pod as a native sidecar: it
// is ready before the build starts (the build's first request succeeds,
// no retry), reachable on localhost, and stopped after the build.
func TestLocalhostTestServiceAsNativeSidecar(t *testing.T) {
	dir := service(t, "real-local", fmt.Sprintf(`command: ["sh", "-c", "wget -q -O - http://localhost:8081/ && echo build done"]
	services: web: {
		localhost: true
		%s
		command: ["sh", "-c", "mkdir -p /tmp/www && echo pong from the sidecar > /tmp/www/index.html && sleep 2 && httpd -f -p 8081 -h /tmp/www & trap 'exit 0' TERM; wait"]
		ports: http: 8081
		readiness: tcp: port: "http"
		securityContext: runAsUser: 1000
	}`, busybox()))
	r := run(t, "run", "--build-id", "local-1", dir)
	e2ekit.WantCode(t, r, 0)
	if r.Took > 30*time.Second {
		t.Errorf("took %s", r.Took)
	}
	e2ekit.WantContains(t, "stdout", r.Stdout, "pong from the sidecar\nbuild done\n")
	e2ekit.NamespaceGone(t, cluster.Client, runner.NamespaceName("real-local", "local-1"))
}

// A localhost test service that crashes keeps the build from starting;
// envgen fails fast, naming it, with its log.
func TestCrashingLocalhostTestServiceFailsFast(t *testing.T) {
	dir := service(t, "real-local-crash", fmt.Sprintf(`command: ["true"]
	services: db: {
		localhost: true
		%s
		command: ["sh", "-c", "echo no data directory; exit 4"]
		ports: pg: 5432
		readiness: tcp: port: "pg"
		securityContext: runAsUser: 1000
	}`, busybox()))
	r := run(t, "run", "--build-id", "local-2", dir)
	e2ekit.WantCode(t, r, 125)
	e2ekit.WantContains(t, "stderr", r.Stderr, "localhost test service db: container db is crash-looping")
	e2ekit.WantContains(t, "stderr", r.Stderr, "  no data directory\n")
	if r.Took > 90*time.Second {
		t.Errorf("took %s to fail", r.Took)
	}
}
