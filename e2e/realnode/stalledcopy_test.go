package realnode

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

// TestArtifactsThroughAStalledStream: the node's kubelet, which carries
// the exec stream of the artifacts' copy, stops for 35 s in the middle of
// it (SIGSTOP, as a kubelet busy or partitioned). The copy comes through
// whole — resumed, or made again after the stream broke — and the passed
// build exits 0: every file arrives with the content the build wrote
// (its md5sum in the build's log is the oracle).
func TestArtifactsThroughAStalledStream(t *testing.T) {
	dir := service(t, "real-stalled-copy", `command: ["sh", "-c", """
		mkdir -p /tmp/out
		i=0; while [ $i -lt 16 ]; do head -c 8388608 /dev/urandom > /tmp/out/f$i; i=$((i+1)); done
		md5sum /tmp/out/*
		"""]
	artifacts: ["/tmp/out"]`)
	out := t.TempDir()
	report := filepath.Join(t.TempDir(), "report.json")
	running := e2ekit.Start(t, envgen, cluster.Kubeconfig, "run", "--build-id", "stall-1", "--artifacts", out, "--report", report, dir)
	running.WaitForStderr(t, "copying artifacts to", 2*time.Minute)
	thaw, err := cluster.FreezeKubelet()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = thaw() })
	time.Sleep(35 * time.Second)
	if err := thaw(); err != nil {
		t.Fatal(err)
	}
	r := running.Wait(t, 3*time.Minute)
	e2ekit.WantCode(t, r, 0)
	sums := 0
	for _, line := range strings.Split(r.Stdout, "\n") {
		sum, file, ok := strings.Cut(line, "  /tmp/out/")
		if !ok {
			continue
		}
		sums++
		data, err := os.ReadFile(filepath.Join(out, "tmp", "out", file))
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if got := md5.Sum(data); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: copied with md5 %x, the build wrote %s", file, got, sum)
		}
	}
	if sums != 16 {
		t.Fatalf("the build's log has %d checksums, want 16:\n%s", sums, r.Stdout)
	}
	// The freeze fell inside the copy, or the test showed nothing.
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep runner.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Phases {
		if p.Name == "artifacts" && p.Seconds < 35 {
			t.Fatalf("the copy took %.1f s: it ended before the kubelet was stopped", p.Seconds)
		}
	}
	t.Logf("stderr:\n%s", r.Stderr)
}
