package realnode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"envgen.dev/envgen/internal/testcluster"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/runner"
)

// spikeCommand is what both ways run: the smallest real build.
var spikeCommand = []string{"sh", "-c", "echo hi"}

// BenchmarkSpikeOverhead answers the spike's question, "what does running
// a CI build as a Kubernetes Pod cost over a plain container?", on the real
// node: each iteration runs spikeCommand in the same image once as a plain
// container on the same containerd (ctr run --rm, the "docker run" of the
// question) and once with envgen run, and times the Pod's steps with a
// watch of its own. It does so on two node configurations side by side,
// alternating in every iteration: the lane's node (Debian's containerd 1.6,
// the kubelet's PLEG relisting every second) and a second cluster whose
// node runs containerd 2 with the EventedPLEG feature gate — how much of
// the overhead the cluster, not envgen, can remove. With
// ENVGEN_SPIKE_REPORT=<file> it writes the report (docs/spike-report.md:
// make spike-report).
func BenchmarkSpikeOverhead(b *testing.B) {
	ctx := context.Background()
	nodes := []*spikeNode{{name: "containerd 1.6, PLEG relist", cluster: cluster}}
	evented, err := testcluster.Start(ctx, testcluster.Options{RealNode: true, EventedNode: true})
	var eventedFailed string
	if err != nil {
		// The report says what failed; the first configuration is measured.
		eventedFailed = err.Error()
		b.Logf("the evented node did not start: %v", err)
	} else {
		defer evented.Stop()
		nodes = append(nodes, &spikeNode{name: "containerd 2.4, EventedPLEG", cluster: evented})
	}
	argv, _ := json.Marshal(spikeCommand)
	for _, n := range nodes {
		n.image = fmt.Sprintf("%s/%s:%s", n.cluster.Registry, testcluster.BusyboxImage, testcluster.ImageTag)
		if out, err := n.ctr("images", "pull", "--plain-http", n.image).CombinedOutput(); err != nil {
			b.Fatalf("%s: ctr images pull: %v\n%s", n.name, err, out)
		}
		n.dir = serviceIn(b, n.cluster, "spike", "command: "+string(argv))
	}

	// One warm-up of each: the image is on the node, the binaries in the
	// page cache. Not measured.
	round := time.Now().UnixNano()
	b.ResetTimer()
	for i := -1; i < b.N; i++ {
		for k, n := range nodes {
			start := time.Now()
			cmd := n.ctr(append([]string{"run", "--rm", n.image, fmt.Sprintf("plain-%d-%d-%d", round, k, i+1)}, spikeCommand...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr // containerd 2's ctr warns of cgroup v1 there
			if out, err := cmd.Output(); err != nil || string(out) != "hi\n" {
				b.Fatalf("%s: ctr run: %v\n%s%s", n.name, err, out, stderr.Bytes())
			}
			plain := time.Since(start)

			s, err := runTimed(ctx, n.cluster, n.dir, fmt.Sprintf("spike-%d-%d-%d", round, k, i+1))
			if err != nil {
				b.Fatalf("%s: %v", n.name, err)
			}
			s.plain = plain
			if i >= 0 {
				n.samples = append(n.samples, s)
			}
		}
	}
	b.StopTimer()
	var results []spikeResult
	for k, n := range nodes {
		sum := summarize(n.samples)
		results = append(results, spikeResult{name: n.name, sum: sum})
		unit := func(metric string) string {
			if k == 0 {
				return metric
			}
			return "evented-" + metric
		}
		b.ReportMetric(sum.plain.median.Seconds(), unit("plain-median-s"))
		b.ReportMetric(sum.envgen.median.Seconds(), unit("envgen-median-s"))
		b.ReportMetric(sum.envgen.p95.Seconds(), unit("envgen-p95-s"))
		b.ReportMetric(sum.envgen.median.Seconds()/sum.plain.median.Seconds(), unit("envgen/plain"))
	}
	if path := os.Getenv("ENVGEN_SPIKE_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(spikeReport(results, eventedFailed, len(nodes[0].samples))), 0o644); err != nil {
			b.Fatal(err)
		}
		b.Logf("wrote %s", path)
	}
}

// spikeNode is one node configuration the spike measures.
type spikeNode struct {
	name    string
	cluster *testcluster.Cluster
	image   string // busybox in the cluster's registry
	dir     string // the spike service
	samples []spikeSample
}

// ctr runs the node's own containerd client on its socket.
func (n *spikeNode) ctr(args ...string) *exec.Cmd {
	return exec.Command(n.cluster.Ctr(), append([]string{"--address", n.cluster.ContainerdSocket(), "--namespace", "envgen-bench"}, args...)...)
}

// spikeSample is one envgen run, timed from outside: the offsets of what
// a watch saw, from envgen's start, and envgen's own report.
type spikeSample struct {
	start        time.Time // the benchmark started envgen
	plain, total time.Duration
	// seen by the benchmark's watch on the build Pod
	created, scheduled, sandboxReady, started, exited, podDone time.Duration
	// the namespace's deletion finished (the cluster's work, after envgen
	// exited)
	namespaceGone time.Duration
	report        runner.Report
}

// runTimed runs one build with envgen run while watching its Pod.
func runTimed(ctx context.Context, cluster *testcluster.Cluster, dir, buildID string) (spikeSample, error) {
	var s spikeSample
	ns := runner.NamespaceName("spike", buildID)
	reportFile := filepath.Join(dir, buildID+".json")
	watchCtx, stop := context.WithCancel(ctx)
	defer stop()
	w, err := cluster.Client.CoreV1().Pods(metav1.NamespaceAll).Watch(watchCtx, metav1.ListOptions{
		LabelSelector: manifests.LabelComponent + "=" + manifests.ComponentCIBuild,
	})
	if err != nil {
		return s, err
	}
	start := time.Now()
	s.start = start
	seen := make(chan struct{})
	go func() {
		defer close(seen)
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok || pod.Namespace != ns || ev.Type == watch.Deleted {
				continue
			}
			at := time.Since(start)
			first := func(d *time.Duration, ok bool) {
				if ok && *d == 0 {
					*d = at
				}
			}
			first(&s.created, true)
			first(&s.scheduled, pod.Spec.NodeName != "")
			first(&s.sandboxReady, conditionTrue(pod, corev1.PodReadyToStartContainers))
			for _, cs := range pod.Status.ContainerStatuses {
				first(&s.started, cs.State.Running != nil || cs.State.Terminated != nil)
				first(&s.exited, cs.State.Terminated != nil)
			}
			first(&s.podDone, pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed)
		}
	}()
	cmd := exec.Command(envgen, "run", "--build-id", buildID, "--report", reportFile, dir)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig, "BUILD_TAG=")
	out, err := cmd.CombinedOutput()
	s.total = time.Since(start)
	if err != nil {
		return s, fmt.Errorf("envgen run: %v\n%s", err, out)
	}
	for {
		_, err := cluster.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			break
		}
		if time.Since(start) > 2*time.Minute {
			return s, fmt.Errorf("namespace %s not gone after 2 minutes", ns)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.namespaceGone = time.Since(start)
	stop()
	<-seen
	data, err := os.ReadFile(reportFile)
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(data, &s.report)
}

func conditionTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
