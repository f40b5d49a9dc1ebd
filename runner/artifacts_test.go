package runner

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func tarOf(t *testing.T, entries ...*tar.Header) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range entries {
		body := strings.Repeat("x", int(h.Size))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	return &buf
}

// unpack writes regular files and directories under its root and nothing
// else: no link, nothing outside, nothing past the size bound.
func TestUnpackStaysInsideAndCreatesNoLinks(t *testing.T) {
	outside := t.TempDir()
	dir := t.TempDir()
	// A link that was in the directory before: written through, it would
	// put a file outside.
	if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()

	copied, err := unpack(root, tarOf(t,
		&tar.Header{Name: "tmp/reports/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "tmp/reports/a.xml", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3},
		&tar.Header{Name: "tmp/reports/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
		// A second name of a file the stream wrote: copied, not linked.
		&tar.Header{Name: "tmp/reports/hard", Typeflag: tar.TypeLink, Linkname: "tmp/reports/a.xml"},
		// A second name of a file the stream did not write: skipped.
		&tar.Header{Name: "tmp/reports/passwd", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"},
		&tar.Header{Name: "tmp/fifo", Typeflag: tar.TypeFifo},
	), 1<<20, []string{"/tmp/reports", "/tmp/fifo"})
	if err != nil {
		t.Fatal(err)
	}
	if copied.Files != 2 || copied.Bytes != 6 || len(copied.Skipped) != 3 {
		t.Errorf("copied %+v, want 2 files, 6 bytes, 3 skipped", copied)
	}
	hard := filepath.Join(dir, "tmp/reports/hard")
	if data, err := os.ReadFile(hard); err != nil || string(data) != "xxx" {
		t.Errorf("the hard link's copy: %q %v", data, err)
	}
	a, _ := os.Stat(filepath.Join(dir, "tmp/reports/a.xml"))
	if h, err := os.Stat(hard); err != nil || os.SameFile(a, h) {
		t.Errorf("a hard link was created: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp/reports/passwd")); err == nil {
		t.Error("a hard link to a file the stream did not write was copied")
	}
	if data, err := os.ReadFile(filepath.Join(dir, "tmp/reports/a.xml")); err != nil || string(data) != "xxx" {
		t.Errorf("a.xml: %q %v", data, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "tmp/reports/link")); err == nil {
		t.Error("a symlink was created")
	}

	for _, tc := range []struct {
		name string
		h    *tar.Header
		max  int64
		err  string
	}{
		{"dot-dot", &tar.Header{Name: "../../etc/x", Typeflag: tar.TypeReg, Size: 1}, 1 << 20, "points outside"},
		{"through a link", &tar.Header{Name: "escape/x", Typeflag: tar.TypeReg, Size: 1}, 1 << 20, "escape"},
		{"too big", &tar.Header{Name: "big", Typeflag: tar.TypeReg, Size: 100}, 10, "larger than --artifacts-max"},
		// The build image's tar is the build's: what it was not asked for
		// is refused, a forged report among it.
		{"not declared", &tar.Header{Name: "home/jenkins/.gitconfig", Typeflag: tar.TypeReg, Size: 1}, 1 << 20, "under none of ci.artifacts"},
		{"beside a declared path", &tar.Header{Name: "tmp/reportsX/junit.xml", Typeflag: tar.TypeReg, Size: 1}, 1 << 20, "under none of ci.artifacts"},
		{"a file above one", &tar.Header{Name: "tmp", Typeflag: tar.TypeReg, Size: 1}, 1 << 20, "under none of ci.artifacts"},
		{"deep", &tar.Header{Name: "tmp/reports/" + strings.Repeat("d/", 100) + "x", Typeflag: tar.TypeReg, Size: 1}, 1 << 20, "more than 64 directories deep"},
		{"control characters", &tar.Header{Name: "x\x1b[2J\nenvgen: build passed", Typeflag: tar.TypeReg, Size: 1}, 1 << 20, `x\x1b[2J\x0aenvgen: build passed`},
	} {
		_, err := unpack(root, tarOf(t, tc.h), tc.max, []string{"/tmp/reports", "/escape", "/big"})
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("a file was written outside: %v", entries)
	}
}

func TestJUnitOfAFailedRun(t *testing.T) {
	r := &Report{Service: "citoid", BuildID: "b1", Namespace: "ns", Phases: []Phase{{Name: "compile", Seconds: 0.1}},
		Outcome: "failed", ExitCode: 3, Error: "build failed with exit code 3 <&>"}
	data, err := r.JUnit()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<testsuite name="envgen run citoid b1" tests="2" failures="1"`, `<testcase name="phase: compile" classname="envgen.citoid.phases" time="0.100">`,
		`<failure message="build failed with exit code 3 &lt;&amp;&gt;" type="failed">`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("junit lacks %s:\n%s", want, data)
		}
	}
}

func TestUnpackBoundsTheNumberOfEntries(t *testing.T) {
	defer func(n int) { maxArtifactEntries = n }(maxArtifactEntries)
	maxArtifactEntries = 2
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	_, err = unpack(root, tarOf(t,
		&tar.Header{Name: "a", Typeflag: tar.TypeReg, Size: 1},
		&tar.Header{Name: "b", Typeflag: tar.TypeReg, Size: 1},
		&tar.Header{Name: "c", Typeflag: tar.TypeReg, Size: 1},
	), 1<<20, []string{"/a", "/b", "/c"})
	if err == nil || !strings.Contains(err.Error(), "more than 2 files and directories; 2 files copied") {
		t.Errorf("error %v", err)
	}
}

func TestTarCommandTakesNoOptionsFromPaths(t *testing.T) {
	got := strings.Join(tarCommand([]string{"/tmp/reports", "/--checkpoint-action=exec=sh"}), " ")
	if want := "tar -cf - -C / ./tmp/reports ./--checkpoint-action=exec=sh"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
}

// Directories count against the bound: one entry of many parts made as
// many directories.
func TestUnpackCountsDirectories(t *testing.T) {
	defer func(n int) { maxArtifactEntries = n }(maxArtifactEntries)
	maxArtifactEntries = 10
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	_, err = unpack(root, tarOf(t, &tar.Header{Name: "r/" + strings.Repeat("d/", 20) + "x", Typeflag: tar.TypeReg, Size: 1}), 1<<20, []string{"/r"})
	if err == nil || !strings.Contains(err.Error(), "more than 10 files and directories") {
		t.Errorf("error %v", err)
	}
}

// TestArtifactsCopiedAgainWhenTheStreamBreaks: a copy whose exec stream
// breaks halfway (a stalled connection) is made again, and the files all
// arrive; a refusal of the stream's content is not retried.
func TestArtifactsCopiedAgainWhenTheStreamBreaks(t *testing.T) {
	stream := tarOf(t,
		&tar.Header{Name: "./tmp/reports/a.xml", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4096},
		&tar.Header{Name: "./tmp/reports/b.xml", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4096},
	).Bytes()
	saved := execInPod
	t.Cleanup(func() { execInPod = saved })
	calls := 0
	execInPod = func(ctx context.Context, client *Core, namespace, pod, container string, command []string, stdout, stderr io.Writer) error {
		calls++
		if calls == 1 {
			stdout.Write(stream[:len(stream)/3])
			return errors.New("websocket: close 1006 (abnormal closure): unexpected EOF")
		}
		_, err := stdout.Write(stream)
		return err
	}
	var lines bytes.Buffer
	ev := &events{sinks: []Sink{&console{progress: NewProgress(&lines, false), logs: io.Discard}}}
	dir := t.TempDir()
	copied, err := collectArtifacts(context.Background(), nil, "ns", "pod", Artifacts{Dir: dir, Paths: []string{"/tmp/reports"}, MaxBytes: 1 << 20}, ev)
	if err != nil || copied.Files != 2 || calls != 2 {
		t.Fatalf("copied %+v, %v after %d calls; want 2 files after 2", copied, err, calls)
	}
	if !strings.Contains(lines.String(), "copying the artifacts again (1 of 3)") {
		t.Errorf("the retry was not said:\n%s", lines.String())
	}

	// A stream that names what it may not is refused at once.
	calls = 0
	bad := tarOf(t, &tar.Header{Name: "./etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1}).Bytes()
	execInPod = func(ctx context.Context, client *Core, namespace, pod, container string, command []string, stdout, stderr io.Writer) error {
		calls++
		_, err := stdout.Write(bad)
		return err
	}
	if _, err := collectArtifacts(context.Background(), nil, "ns", "pod", Artifacts{Dir: t.TempDir(), Paths: []string{"/tmp/reports"}, MaxBytes: 1 << 20}, ev); err == nil || calls != 1 {
		t.Errorf("a refused stream: %v after %d calls, want an error after 1", err, calls)
	}
}

// TestAStalledArtifactsStreamIsCutAndCopiedAgain: a stream that stops
// bringing bytes without breaking (a stopped kubelet, a connection no one
// closes) is cut after artifactsIdle and the copy made again, instead of
// waiting out the run's timeout.
func TestAStalledArtifactsStreamIsCutAndCopiedAgain(t *testing.T) {
	stream := tarOf(t, &tar.Header{Name: "./tmp/reports/a.xml", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4096}).Bytes()
	savedExec, savedIdle := execInPod, artifactsIdle
	t.Cleanup(func() { execInPod, artifactsIdle = savedExec, savedIdle })
	artifactsIdle = 200 * time.Millisecond
	calls := 0
	execInPod = func(ctx context.Context, client *Core, namespace, pod, container string, command []string, stdout, stderr io.Writer) error {
		calls++
		if calls == 1 {
			stdout.Write(stream[:len(stream)/2])
			<-ctx.Done() // stalled: only the cut ends it
			return ctx.Err()
		}
		_, err := stdout.Write(stream)
		return err
	}
	var lines bytes.Buffer
	ev := &events{sinks: []Sink{&console{progress: NewProgress(&lines, false), logs: io.Discard}}}
	start := time.Now()
	copied, err := collectArtifacts(context.Background(), nil, "ns", "pod", Artifacts{Dir: t.TempDir(), Paths: []string{"/tmp/reports"}, MaxBytes: 1 << 20}, ev)
	if err != nil || copied.Files != 1 || calls != 2 {
		t.Fatalf("copied %+v, %v after %d calls; want 1 file after 2", copied, err, calls)
	}
	if !strings.Contains(lines.String(), "brought nothing for too long") {
		t.Errorf("the stall was not said:\n%s", lines.String())
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the copy took %s", took)
	}
}
