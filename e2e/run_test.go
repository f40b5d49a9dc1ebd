package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/internal/testcluster"
	"envgen.dev/envgen/runner"
)

func TestRunSucceeds(t *testing.T) {
	dir := service(t, "ok", "")
	report := filepath.Join(t.TempDir(), "report.json")
	r := run(t, "run", "--build-id", "success-1", "--report", report, dir)
	wantCode(t, r, 0)
	// kwok serves the whole log on every request: each line must still
	// appear exactly once.
	for _, line := range []string{"> citoid@1.0.0 test", "warning: zotero answered slowly", "42 passing (2s)"} {
		if n := strings.Count(r.Stdout, line+"\n"); n != 1 {
			t.Errorf("log line %q printed %d times:\n%s", line, n, r.Stdout)
		}
	}
	wantContains(t, "stderr", r.Stderr, "timing (namespace ok-ci-success-1-")

	var rep runner.Report
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range rep.Phases {
		names = append(names, p.Name)
	}
	want := []string{"compile", "namespace+apply", "services ready", "pod scheduled", "containers started", "build finished", "cleanup"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("phases %v, want %v", names, want)
	}
	if rep.Outcome != "succeeded" || !rep.Cleaned || rep.TotalSeconds <= 0 {
		t.Errorf("report: %s", data)
	}
	namespaceGone(t, rep.Namespace)
}

func TestRunPassesExitCodeThrough(t *testing.T) {
	dir := service(t, "fails", `annotations: "kwok.test/exit-code": "3"`)
	reportFile := filepath.Join(t.TempDir(), "report.json")
	r := run(t, "run", "--build-id", "fail-3", "--log-prefix", "[build] ", "--report", reportFile, dir)
	wantCode(t, r, 3)
	if rep := readReport(t, reportFile); rep.ExitCode != 3 || rep.ExitCodeFrom != "build" || rep.BuildExitCode == nil || *rep.BuildExitCode != 3 {
		t.Errorf("report: exit %d from %s, build exit %v", rep.ExitCode, rep.ExitCodeFrom, rep.BuildExitCode)
	}
	wantContains(t, "stdout", r.Stdout, "[build] 42 passing (2s)\n")
	wantContains(t, "stderr", r.Stderr, "build failed with exit code 3")
	wantContains(t, "stderr", r.Stderr, "recent events in fails-ci-fail-3-")
	wantContains(t, "stderr", r.Stderr, "container build: terminated: exit code 3")
	namespaceGone(t, runner.NamespaceName("fails", "fail-3"))
}

func TestRunWaitsForServicesFirst(t *testing.T) {
	dir := service(t, "withdb", `services: db: {image: "registry.example.org/postgres", tag: "16", ports: pg: 5432, readiness: tcp: port: "pg", securityContext: runAsUser: 999}`)
	r := run(t, "run", "--build-id", "svc-1", "--keep", dir)
	wantCode(t, r, 0)
	ns := runner.NamespaceName("withdb", "svc-1")
	defer cluster.Client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	wantContains(t, "stderr", r.Stderr, "test service withdb-db ready (1/1)")

	ctx := context.Background()
	pods, err := cluster.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=withdb-db"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("service pods: %v %v", err, pods)
	}
	var ready time.Time
	for _, c := range pods.Items[0].Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			ready = c.LastTransitionTime.Time
		}
	}
	build, err := cluster.Client.CoreV1().Pods(ns).Get(ctx, "withdb-ci-build", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ready.IsZero() || build.CreationTimestamp.Time.Before(ready) {
		t.Errorf("build Pod created at %s, before the service was ready at %s", build.CreationTimestamp, ready)
	}
}

func TestRunImagePullErrorFailsFast(t *testing.T) {
	dir := service(t, "badimage", `annotations: "kwok.test/waiting-reason": "ErrImagePull"`)
	r := run(t, "run", "--build-id", "pull-1", "--timeout", "2m", dir)
	wantCode(t, r, 125)
	wantContains(t, "stderr", r.Stderr, "build could not run: ErrImagePull: kwok: simulated ErrImagePull for registry.example.org/badimage:1.0")
	if r.Took > 30*time.Second {
		t.Errorf("took %s to give up on an image that cannot be pulled", r.Took)
	}
	namespaceGone(t, runner.NamespaceName("badimage", "pull-1"))
}

func TestRunTimeout(t *testing.T) {
	dir := service(t, "slow", `annotations: "kwok.test/delay": "60s"`)
	reportFile := filepath.Join(t.TempDir(), "report.json")
	r := run(t, "run", "--build-id", "timeout-1", "--timeout", "8s", "--report", reportFile, dir)
	wantCode(t, r, 124)
	wantContains(t, "stderr", r.Stderr, "timed out after 8s")
	// The report says whose exit code it is and which wait was cut short.
	rep := readReport(t, reportFile)
	if rep.ExitCode != 124 || rep.ExitCodeFrom != "envgen" || rep.BuildExitCode != nil || rep.Outcome != "timeout" {
		t.Errorf("report: exit %d from %s, build exit %v, outcome %s", rep.ExitCode, rep.ExitCodeFrom, rep.BuildExitCode, rep.Outcome)
	}
	if names := phaseNames(rep); !strings.Contains(names, "build finished (timed out),cleanup") {
		t.Errorf("phases %s: want the cut wait, then cleanup", names)
	}
	namespaceGone(t, runner.NamespaceName("slow", "timeout-1"))
}

func readReport(t *testing.T, path string) runner.Report {
	t.Helper()
	var rep runner.Report
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

func phaseNames(rep runner.Report) string {
	var names []string
	for _, p := range rep.Phases {
		names = append(names, p.Name)
	}
	return strings.Join(names, ",")
}

// A Pod that does not fit waits for capacity up to --schedule-grace (on
// an autoscaled cluster the first "Insufficient cpu" adds a node), then the
// run fails, naming it; with no grace it fails at once. Here another Pod
// takes 600 of the node's 1,000 CPUs and the build asks for 600: it would
// fit the node empty, so waiting could help. The quota is raised past the
// requests: this is about the node's capacity, not the fence.
func TestUnschedulableWaitsForCapacityThenFails(t *testing.T) {
	fillNode(t, "600")
	dir := service(t, "big", `resources: requests: cpu: "600"`)
	r := run(t, "run", "--build-id", "big-1", "--quota", "cpu=2k", "--schedule-grace", "3s", dir)
	wantCode(t, r, 125)
	wantContains(t, "stderr", r.Stderr, "waiting up to 3s for it (--schedule-grace)")
	wantContains(t, "stderr", r.Stderr, "the build Pod stayed unschedulable for 3s (--schedule-grace): 0/1 nodes are available: 1 Insufficient cpu")
	if r.Took < 3*time.Second || r.Took > 20*time.Second {
		t.Errorf("took %s, want the 3 s grace and little more", r.Took)
	}
	namespaceGone(t, runner.NamespaceName("big", "big-1"))

	dir = service(t, "bigdb", `services: db: {image: "registry.example.org/db", tag: "1", resources: requests: cpu: "600"}`)
	r = run(t, "run", "--build-id", "bigdb-1", "--quota", "cpu=2k", "--schedule-grace", "0s", dir)
	wantCode(t, r, 125)
	wantContains(t, "stderr", r.Stderr, "test service bigdb-db is unschedulable: 0/1 nodes are available: 1 Insufficient cpu")
	if r.Took > 15*time.Second {
		t.Errorf("took %s to fail without a grace", r.Took)
	}
}

// A request no node could hold even empty (5,000 CPUs; the kwok node has
// 1,000) cannot be helped by waiting: it fails at once,
// naming the largest node, whatever --schedule-grace says — for the
// build Pod and for a test service alike.
func TestRequestBeyondEveryNodeFailsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name, extra, want string
	}{
		{"huge", `resources: requests: cpu: "5000"`, "the build Pod requests 5k cpu, more than any node can hold: the largest, " + testcluster.NodeName + ", has "},
		{"hugedb", `services: db: {image: "registry.example.org/db", tag: "1", resources: requests: cpu: "5000"}`, "test service hugedb-db requests 5k cpu, more than any node can hold: the largest, " + testcluster.NodeName + ", has "},
	} {
		dir := service(t, tc.name, tc.extra)
		r := run(t, "run", "--build-id", tc.name+"-1", "--quota", "cpu=6k", "--schedule-grace", "5m", dir)
		wantCode(t, r, 125)
		wantContains(t, "stderr", r.Stderr, tc.want)
		if r.Took > 30*time.Second {
			t.Errorf("took %s: it waited", r.Took)
		}
		namespaceGone(t, runner.NamespaceName(tc.name, tc.name+"-1"))
	}
}

// envgen.cue binds ci to a cluster (API server URL, kube-system's UID):
// run refuses any other cluster (2) before it creates anything, and runs
// on the right one.
func TestRunRefusesAnotherCluster(t *testing.T) {
	ks, err := cluster.Client.CoreV1().Namespaces().Get(context.Background(), "kube-system", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		binding string
		code    int
		stderr  string
	}{
		{`server: "https://prod-k8s.example.org:6443"`, 2, "environment ci runs on https://prod-k8s.example.org:6443 (envgen.cue's cluster.server), but the kubeconfig points at " + strings.TrimRight(cluster.Config.Host, "/")},
		{`uid: "3f2504e0-4f89-11d3-9a0c-0305e82c3301"`, 2, "environment ci runs on the cluster whose kube-system namespace has UID 3f2504e0-4f89-11d3-9a0c-0305e82c3301 (envgen.cue's cluster.uid), but this cluster's is \"" + string(ks.UID) + "\""},
		{fmt.Sprintf(`server: %q, uid: %q`, cluster.Config.Host, ks.UID), 0, ""},
	} {
		dir := service(t, "bound", "")
		src, _ := os.ReadFile(filepath.Join(dir, "envgen.cue"))
		src = append(src, []byte("environments: ci: cluster: {"+tc.binding+"}\n")...)
		os.WriteFile(filepath.Join(dir, "envgen.cue"), src, 0o644)
		r := run(t, "run", "--build-id", fmt.Sprintf("bound-%d", tc.code), dir)
		wantCode(t, r, tc.code)
		wantContains(t, "stderr", r.Stderr, tc.stderr)
		if tc.code != 0 && strings.Contains(r.Stderr, "creating namespace") {
			t.Errorf("a namespace was created on the wrong cluster:\n%s", r.Stderr)
		}
	}
}

// A build whose scheduling no node matches (a node selector here) cannot
// be fixed by waiting: it fails at once, whatever --schedule-grace says.
func TestNodeSelectorNoNodeMatchesFailsAtOnce(t *testing.T) {
	dir := service(t, "pinned", "")
	src, _ := os.ReadFile(filepath.Join(dir, "envgen.cue"))
	src = append(src, []byte(`environments: ci: scheduling: {nodeSelector: "node.kubernetes.io/pool": "gpu", tolerations: [{key: "dedicated", operator: "Exists"}]}`+"\n")...)
	os.WriteFile(filepath.Join(dir, "envgen.cue"), src, 0o644)
	r := run(t, "run", "--build-id", "pinned-1", "--schedule-grace", "2m", dir)
	wantCode(t, r, 125)
	wantContains(t, "stderr", r.Stderr, "the build Pod is unschedulable: 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector")
	if r.Took > 20*time.Second {
		t.Errorf("took %s", r.Took)
	}
}
