package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOneLineEscapes: what the cluster says of a Pod or an event carries
// what the build wrote (a readiness probe's output, a termination
// message); envgen prints its first line with control characters escaped.
func TestOneLineEscapes(t *testing.T) {
	got := oneLine("Readiness probe failed: \x1b[2K\renvgen: build passed\nsecond line")
	if want := `Readiness probe failed: \x1b[2K\x0denvgen: build passed`; got != want {
		t.Errorf("oneLine = %q, want %q", got, want)
	}
}

// TestFinalReadIsCompleteOrSaysSo: after the container exited, the last
// read goes on while lines keep coming, however long the rest is (it was
// cut at 5 s: 82 % of a million-line log lost without a word); a kubelet
// that stops sending is given up on after finalIdle of silence, and that
// is said in the log, on the console and in the report.
func TestFinalReadIsCompleteOrSaysSo(t *testing.T) {
	saved := finalIdle
	finalIdle = 300 * time.Millisecond
	t.Cleanup(func() { finalIdle = saved })
	for _, tc := range []struct {
		name  string
		stall bool
	}{{"slow but steady", false}, {"stalled", true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				flusher := w.(http.Flusher)
				// Longer in all than finalIdle, never silent for that long.
				for i := range 10 {
					fmt.Fprintf(w, "2026-01-01T00:00:01.%09dZ line %d\n", i, i)
					flusher.Flush()
					time.Sleep(100 * time.Millisecond)
				}
				if tc.stall {
					<-r.Context().Done()
					return
				}
				fmt.Fprintf(w, "2026-01-01T00:00:02.000000000Z LAST-LINE\n")
			}))
			defer srv.Close()
			out, report := readAfterExit(srv)
			got := out.String()
			if !strings.Contains(got, "line 9\n") {
				t.Errorf("lines lost:\n%s", got)
			}
			if tc.stall {
				if !strings.Contains(got, "[envgen: the log of svc-ci-build ends here, incomplete: the kubelet sent nothing for 300ms]") || len(report.LogsIncomplete) != 1 {
					t.Errorf("a stalled end not said: %v\n%s", report.LogsIncomplete, got)
				}
			} else if !strings.HasSuffix(got, "LAST-LINE\n") || len(report.LogsIncomplete) != 0 {
				t.Errorf("the log's end: %v\n%s", report.LogsIncomplete, got)
			}
		})
	}
}

// TestFinalReadWaitsForTheRuntimeToFinishWriting: the exit of a busy build
// is seen while the runtime is still writing its log; the kubelet hands
// out what the file holds, a half-written last line included. The final
// reads print whole lines only, each once, until the log has settled —
// on the real node one run in five lost the end of a 200,000-line log
// after printing half of a line.
func TestFinalReadWaitsForTheRuntimeToFinishWriting(t *testing.T) {
	const n = 300
	var mu sync.Mutex
	var file strings.Builder // the container's log file, as the runtime writes it
	go func() {
		for i := range n {
			mu.Lock()
			fmt.Fprintf(&file, "2026-01-01T00:00:01.%09dZ line %d\n", i, i)
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
		mu.Lock()
		file.WriteString("2026-01-01T00:00:02.000000000Z LAST-LINE\n")
		mu.Unlock()
	}()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		content := file.String()
		mu.Unlock()
		if !strings.Contains(content, "LAST-LINE") {
			content += "2026-01-01T00:00:01.99" // the next line, half-written
		}
		io.WriteString(w, content)
	}))
	defer srv.Close()
	out, report := readAfterExit(srv)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != n+1 || lines[n] != "LAST-LINE" || len(report.LogsIncomplete) != 0 {
		t.Fatalf("%d lines, the last %q, incomplete %v; want %d and LAST-LINE", len(lines), lines[len(lines)-1], report.LogsIncomplete, n+1)
	}
	for i, line := range lines[:n] {
		if line != fmt.Sprintf("line %d", i) {
			t.Fatalf("line %d is %q", i, line)
		}
	}
}

// TestALastLineWithoutNewlineIsPrinted: a build's last words printed
// without a newline stay a partial record in the node's log (containerd
// writes them so, and nothing completes them); once the log has settled
// they are printed as its last line, not taken for a line still being
// written, and the log is complete.
func TestALastLineWithoutNewlineIsPrinted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "2026-01-01T00:00:01.000000000Z whole\n2026-01-01T00:00:01.500000000Z done")
	}))
	defer srv.Close()
	out, report := readAfterExit(srv)
	if got, want := out.String(), "whole\ndone\n"; got != want || len(report.LogsIncomplete) != 0 {
		t.Errorf("got %q, incomplete %v; want %q", got, report.LogsIncomplete, want)
	}
}

// TestALongLineIsCut: one line of 3 MiB is printed up to maxLogLine and
// the cut said; the next line is whole.
func TestALongLineIsCut(t *testing.T) {
	var out bytes.Buffer
	ev := &events{sinks: []Sink{&console{progress: NewProgress(io.Discard, false), logs: &out}}}
	s := &logStreamer{out: ev.logWriter("")}
	stream := "2026-01-01T00:00:01.000000000Z " + strings.Repeat("x", 3<<20) + "\n2026-01-01T00:00:02.000000000Z next\n"
	if err := s.consume(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || lines[1] != "next" || !strings.HasSuffix(lines[0], "[envgen: line cut at 1048576 bytes]") || len(lines[0]) > maxLogLine+100 {
		t.Errorf("got %d lines, first %d bytes ending %q", len(lines), len(lines[0]), lines[0][max(0, len(lines[0])-60):])
	}
}

// TestACutLineIsNotPrinted: a stream cut mid-line (the follow stream is
// cancelled when the build ends) prints the whole lines before the cut,
// not the half line; the next read brings it whole, once.
func TestACutLineIsNotPrinted(t *testing.T) {
	var out bytes.Buffer
	ev := &events{sinks: []Sink{&console{progress: NewProgress(io.Discard, false), logs: &out}}}
	s := &logStreamer{out: ev.logWriter("")}
	cut := io.MultiReader(strings.NewReader("2026-01-01T00:00:01.000000000Z 18672\n2026-01-01T00:00:01.500000000Z 1867"), errReader{context.Canceled})
	if err := s.consume(cut); err == nil {
		t.Fatal("the cut was not reported")
	}
	if err := s.consume(strings.NewReader("2026-01-01T00:00:01.000000000Z 18672\n2026-01-01T00:00:01.500000000Z 18673\n")); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "18672\n18673\n" {
		t.Errorf("printed %q, want each whole line once", got)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestARotatedAwayStretchIsSaid: a read after the first starts at the
// second of the last line printed; when the log the kubelet serves starts
// later, the lines between went with a rotated file, and the log, the
// console and the report say so where it happened. A server that sends
// everything again (it ignores sinceTime) is no gap.
func TestARotatedAwayStretchIsSaid(t *testing.T) {
	for _, tc := range []struct {
		name, second string
		gap          bool
	}{
		{"rotated", "2026-01-01T00:00:09.000000000Z j\n2026-01-01T00:00:10.000000000Z k\n", true},
		{"from the last line", "2026-01-01T00:00:02.000000000Z b\n2026-01-01T00:00:03.000000000Z c\n", false},
		{"from the start", "2026-01-01T00:00:01.000000000Z a\n2026-01-01T00:00:02.000000000Z b\n2026-01-01T00:00:03.000000000Z c\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			report := newReport(time.Now(), false)
			ev := &events{sinks: []Sink{report, &console{progress: NewProgress(io.Discard, false), logs: &out}}}
			s := &logStreamer{pod: "svc-ci-build", out: ev.logWriter(""), progress: ev}
			if err := s.consume(strings.NewReader("2026-01-01T00:00:01.000000000Z a\n2026-01-01T00:00:02.000000000Z b\n")); err != nil {
				t.Fatal(err)
			}
			if err := s.consume(strings.NewReader(tc.second)); err != nil {
				t.Fatal(err)
			}
			said := strings.Contains(out.String(), "[envgen: lines written between 2026-01-01T00:00:02Z and 2026-01-01T00:00:09Z may be missing")
			if said != tc.gap || (len(report.LogsIncomplete) == 1) != tc.gap {
				t.Errorf("gap said %v, in the report %v; want %v\n%s", said, report.LogsIncomplete, tc.gap, out.String())
			}
		})
	}
}

// readAfterExit runs a log streamer of build Pod svc-ci-build against srv
// (the kubelet's log endpoint, as the API server proxies it) as after the
// build's exit: what it printed, and the report it made.
func readAfterExit(srv *httptest.Server) (*bytes.Buffer, *Report) {
	var out bytes.Buffer
	report := newReport(time.Now(), false)
	ev := &events{sinks: []Sink{report, &console{progress: NewProgress(io.Discard, false), logs: &out}}}
	s := &logStreamer{client: &Core{http: srv.Client(), host: srv.URL}, namespace: "ns", pod: "svc-ci-build", out: ev.logWriter(""), progress: ev}
	finished := make(chan struct{})
	close(finished)
	s.run(context.Background(), finished)
	return &out, report
}
