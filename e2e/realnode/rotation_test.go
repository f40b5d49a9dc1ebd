package realnode

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

// TestAMillionLinesThroughRotation: a build prints 1,000,000 numbered
// lines in ten bursts over half a minute (about 50 MB of CRI log), so the
// kubelet rotates its log file (containerLogMaxSize, 10 MiB, looked at
// every 10 s) while envgen streams it, then LAST-LINE. The numbers are the
// oracle: what envgen prints is every number once, in order, and where a
// stretch is missing envgen has said so at that place in the log, on
// stderr and in the report (logsIncomplete). A silent jump, a repeat or a
// line out of order fails. The build's exit code stands either way.
func TestAMillionLinesThroughRotation(t *testing.T) {
	const bursts, perBurst = 10, 100000
	const n = bursts * perBurst
	name := "real-rotated-log"
	dir := service(t, name, fmt.Sprintf(`command: ["sh", "-c", "i=0; while [ $i -lt %d ]; do seq $((i*%d+1)) $(((i+1)*%d)); i=$((i+1)); sleep 2.5; done; echo LAST-LINE"]`, bursts, perBurst, perBurst))
	report := filepath.Join(t.TempDir(), "report.json")
	buildID := fmt.Sprintf("rot-%d", time.Now().UnixNano()%1e9)
	ns := runner.NamespaceName(name, buildID)
	t.Cleanup(func() {
		_ = cluster.Client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		e2ekit.NamespaceGone(t, cluster.Client, ns)
	})
	start := time.Now()
	r := run(t, "run", "--build-id", buildID, "--keep", "--report", report, dir)
	t.Logf("envgen run took %s", time.Since(start).Round(time.Millisecond))
	e2ekit.WantCode(t, r, 0)

	// The test shows something only if the kubelet rotated the log.
	files, _ := filepath.Glob(filepath.Join(cluster.Dir, "node", "pod-logs", ns+"_"+name+"-ci-build_*", "build", "*.log*"))
	if len(files) < 2 {
		t.Fatalf("the kubelet did not rotate the build's log (files: %v): nothing was shown", files)
	}
	t.Logf("the node's log files after the run: %d", len(files))

	gaps, next := 0, 1
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	lastLine := false
	for i, line := range lines {
		switch {
		case strings.HasPrefix(line, "[envgen: lines written between"):
			gaps++
			continue
		case strings.HasPrefix(line, "[envgen: the log of"):
			t.Fatalf("line %d: the log's end was not read: %s", i+1, line)
		case line == "LAST-LINE":
			if i != len(lines)-1 {
				t.Fatalf("line %d: LAST-LINE before the end", i+1)
			}
			lastLine = true
			continue
		}
		got, err := strconv.Atoi(line)
		if err != nil {
			t.Fatalf("line %d is neither a number nor envgen's: %q", i+1, line)
		}
		said := i > 0 && strings.HasPrefix(lines[i-1], "[envgen: lines written between")
		switch {
		case got < next:
			t.Fatalf("line %d: %d again or out of order (expected %d)", i+1, got, next)
		case got > next && !said:
			t.Fatalf("line %d: %d follows %d: %d lines missing without a word", i+1, got, next-1, got-next)
		}
		next = got + 1
	}
	printed := next - 1
	if gaps == 0 && printed != n {
		t.Fatalf("the log ends at %d of %d without a word", printed, n)
	}
	if !lastLine && gaps == 0 {
		// containerd 1.6 may close a log mid-record at exit (see
		// TestALongLogArrivesAsTheNodeHasIt): then the node lacks it too.
		if tail := nodeLogTail(t, files); strings.Contains(tail, "LAST-LINE") {
			t.Fatalf("LAST-LINE is on the node but not in envgen's output")
		}
		t.Logf("the node's own log lost its last line")
	}

	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep runner.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if (len(rep.LogsIncomplete) > 0) != (gaps > 0) {
		t.Errorf("%d gaps said in the log, the report's logsIncomplete: %v", gaps, rep.LogsIncomplete)
	}
	if gaps > 0 && !strings.Contains(r.Stderr, "has a gap") {
		t.Errorf("a gap in the log but none said on stderr")
	}
	t.Logf("%d lines of %d printed, %d gaps said", len(lines)-gaps, n+1, gaps)
}

// nodeLogTail is the end of the current (unrotated) log file.
func nodeLogTail(t *testing.T, files []string) string {
	t.Helper()
	for _, f := range files {
		if strings.HasSuffix(f, ".log") {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			return string(data[max(0, len(data)-512):])
		}
	}
	return ""
}
