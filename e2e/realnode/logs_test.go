package realnode

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

// TestALongLogArrivesWhole: a build that prints 200,000 lines (below the kubelet's 10 MiB log rotation, which would drop lines) and exits
// at once has its whole log on envgen's stdout, the last line included,
// each line once and in order; the report does not call it incomplete.
// (The final read after the exit was cut at 5 s: two thirds of such a log
// were lost, the last line with them, and nothing said so.)
func TestALongLogArrivesWhole(t *testing.T) {
	const n = 200000
	dir := service(t, "real-long-log", `command: ["sh", "-c", "seq 1 200000; echo LAST-LINE"]`)
	report := filepath.Join(t.TempDir(), "report.json")
	r := run(t, "run", "--build-id", "long-1", "--report", report, dir)
	e2ekit.WantCode(t, r, 0)
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	if len(lines) != n+1 || lines[n] != "LAST-LINE" {
		t.Fatalf("%d lines, the last %q; want %d and LAST-LINE\n%s", len(lines), lines[len(lines)-1], n+1, r.Stderr)
	}
	for i, line := range lines[:n] {
		if want := itoa(i + 1); line != want {
			t.Fatalf("line %d is %q, want %q", i+1, line, want)
		}
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

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
