package realnode

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

// TestALongLogArrivesAsTheNodeHasIt: a build that prints 200,000 lines
// (below the kubelet's 10 MiB log rotation) and exits at once has on
// envgen's stdout exactly the log its node's runtime wrote — the CRI log
// file the kubelet serves, read here after the run as the oracle — each
// line whole and once, and the report does not call it incomplete.
// Twice envgen lost part of such a log without a word: the final read
// after the exit was cut at 5 s (two thirds lost), then it printed half
// of a line and stopped. containerd 1.6 itself drops the end of such a log
// at exit in about one run of three: the file ends in a partial record
// and nothing follows. envgen prints what the node has, so then both lack
// it; the test says so in its log.
func TestALongLogArrivesAsTheNodeHasIt(t *testing.T) {
	const n = 200000
	dir := service(t, "real-long-log", fmt.Sprintf(`command: ["sh", "-c", "seq 1 %d; echo LAST-LINE"]`, n))
	report := filepath.Join(t.TempDir(), "report.json")
	buildID := fmt.Sprintf("long-%d", time.Now().UnixNano()%1e9) // -count=N runs it again
	ns := runner.NamespaceName("real-long-log", buildID)
	t.Cleanup(func() {
		_ = cluster.Client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		e2ekit.NamespaceGone(t, cluster.Client, ns)
	})
	r := run(t, "run", "--build-id", buildID, "--keep", "--report", report, dir)
	e2ekit.WantCode(t, r, 0)

	want := nodeLog(t, ns, "real-long-log-ci-build", "build")
	if r.Stdout != want {
		got, wanted := strings.Count(r.Stdout, "\n"), strings.Count(want, "\n")
		t.Fatalf("envgen printed %d lines, the node's log has %d; the last ones: %q, the node's: %q", got, wanted, tail(r.Stdout), tail(want))
	}
	if lines := strings.Count(want, "\n"); lines != n+1 {
		t.Logf("the node's own log lost its end: %d of %d lines, ending %q (containerd %s)", lines, n+1, tail(want), "1.6")
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep runner.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.LogsIncomplete) != 0 {
		t.Errorf("the report calls the log incomplete: %v", rep.LogsIncomplete)
	}
}

// nodeLog is a container's log as the runtime wrote it on the node, in the
// CRI format ("<time> <stream> <P|F> <text>"), joined as the kubelet joins
// it: a partial record's text is continued by the next record's.
func nodeLog(t *testing.T, namespace, pod, container string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(cluster.Dir, "node", "pod-logs", namespace+"_"+pod+"_*", container, "*.log*"))
	if len(files) != 1 {
		t.Fatalf("want one log file of %s/%s on the node (no rotation), found %v", pod, container, files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, record := range strings.SplitAfter(string(data), "\n") {
		if record == "" {
			continue
		}
		fields := strings.SplitN(strings.TrimSuffix(record, "\n"), " ", 4)
		if len(fields) < 3 {
			t.Fatalf("not a CRI log record: %q", record)
		}
		text := ""
		if len(fields) == 4 {
			text = fields[3]
		}
		out.WriteString(text)
		if fields[2] == "F" {
			out.WriteString("\n")
		}
	}
	if s := out.String(); s != "" && !strings.HasSuffix(s, "\n") {
		out.WriteString("\n") // envgen ends the last line, as a terminal needs
	}
	return out.String()
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-3):], "\n")
}
