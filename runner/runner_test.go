package runner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
)

func TestNamespaceName(t *testing.T) {
	tests := []struct {
		desc, service, buildID, wantPrefix string
	}{
		{desc: "jenkins build tag", service: "citoid", buildID: "jenkins-citoid-pipeline-42", wantPrefix: "citoid-ci-jenkins-citoid-pipeline-42-"},
		{desc: "characters a label cannot have", service: "citoid", buildID: "PR_17/Attempt 2", wantPrefix: "citoid-ci-pr-17-attempt-2-"},
		{desc: "long ids are cut", service: "citoid", buildID: strings.Repeat("x", 200), wantPrefix: "citoid-ci-xxxx"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := NamespaceName(tc.service, tc.buildID)
			if !strings.HasPrefix(got, tc.wantPrefix) {
				t.Errorf("%q does not start with %q", got, tc.wantPrefix)
			}
			if errs := validation.IsDNS1123Label(got); len(errs) > 0 {
				t.Errorf("%q is not a namespace name: %v", got, errs)
			}
		})
	}
	// Ids that sanitise alike, or differ only past the cut, stay apart.
	pairs := [][2]string{{"PR_1", "pr-1"}, {strings.Repeat("a", 100) + "1", strings.Repeat("a", 100) + "2"}}
	for _, p := range pairs {
		if NamespaceName("svc", p[0]) == NamespaceName("svc", p[1]) {
			t.Errorf("build ids %q and %q share a namespace", p[0], p[1])
		}
	}
}

func TestLogReconnectNeitherLosesNorRepeats(t *testing.T) {
	var out bytes.Buffer
	ev := &events{sinks: []Sink{&console{progress: NewProgress(io.Discard, false), logs: &out, logPrefix: "| "}}}
	s := &logStreamer{out: ev.logWriter("")}
	// The first connection drops after two lines of the same second.
	first := "2026-01-01T00:00:01.000000000Z a\n2026-01-01T00:00:01.000000000Z b\n"
	// The reconnect asks from that second: it gets a and b again, then a
	// third line of the same timestamp, then more.
	second := "2026-01-01T00:00:01.000000000Z a\n2026-01-01T00:00:01.000000000Z b\n" +
		"2026-01-01T00:00:01.000000000Z b\n2026-01-01T00:00:02.500000000Z c\n"
	// A server that ignores sinceTime sends everything again.
	third := "2026-01-01T00:00:00.000000000Z early\n" + second + "2026-01-01T00:00:03.000000000Z d\n"
	for _, stream := range []string{first, second, third} {
		if err := s.consume(strings.NewReader(stream)); err != nil {
			t.Fatal(err)
		}
	}
	want := "| a\n| b\n| b\n| c\n| d\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLogsUnavailableIsSaidOnceAndDoesNotStopTheRun(t *testing.T) {
	var out bytes.Buffer
	s := &logStreamer{pod: "svc-ci-build", progress: &events{sinks: []Sink{&console{progress: NewProgress(&out, false)}}}}
	refused := errors.New(`Get "https://127.0.0.1:10250/containerLogs/ns/svc-ci-build/build": dial tcp 127.0.0.1:10250: connect: connection refused`)
	s.report(refused)
	s.report(refused)
	s.report(context.Canceled)
	s.report(errors.New("no logs found for container \"build\"\nsecond line"))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per distinct problem, got:\n%s", out.String())
	}
	if !strings.HasPrefix(lines[0], "envgen: logs of svc-ci-build unavailable (still waiting for the build): Get ") ||
		!strings.HasSuffix(lines[1], `no logs found for container "build"`) {
		t.Errorf("got:\n%s", out.String())
	}
}

func TestProgressLiveLineOnATerminalPlainLinesOtherwise(t *testing.T) {
	var tty bytes.Buffer
	p := NewProgress(&tty, true)
	p.Status("waiting")
	p.Line("a line that stays")
	if got := tty.String(); !strings.HasPrefix(got, "\r\033[K[") || !strings.Contains(got, "waiting\r\033[Ka line that stays\n") {
		t.Errorf("terminal output %q", got)
	}
	var plain bytes.Buffer
	p = NewProgress(&plain, false)
	p.Status("waiting")
	if got := plain.String(); strings.Contains(got, "\r") || !strings.HasSuffix(got, " envgen: waiting\n") {
		t.Errorf("plain output %q", got)
	}
}

func TestCrashLoopingAfterTheSecondRestart(t *testing.T) {
	pod := func(restarts int32) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
			Name:                 "db",
			RestartCount:         restarts,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}},
		}}}}
	}
	if c, msg := crashLooping(pod(1)); c != "" || msg != "" {
		t.Errorf("one crash is not a loop yet: %q %q", c, msg)
	}
	c, msg := crashLooping(pod(2))
	if want := "container db is crash-looping (restarted 2 times, last exit code 137 (OOMKilled))"; c != "db" || msg != want {
		t.Errorf("got %q %q, want db %q", c, msg, want)
	}
}

func TestBuildEndsWhenItsContainerExitsForGood(t *testing.T) {
	pod := func(code int32) *corev1.Pod {
		return &corev1.Pod{
			Spec: corev1.PodSpec{NodeName: "n", RestartPolicy: corev1.RestartPolicyNever},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
				Name:  "build",
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}},
			}}},
		}
	}
	for _, tc := range []struct {
		code int32
		done bool
	}{{0, true}, {5, true}, {137, false}, {143, false}} {
		b := &buildWatch{events: &events{sinks: []Sink{newReport(time.Now(), false)}}, what: "the build Pod", container: "build"}
		done, err := b.observe(watch.Event{Type: watch.Modified, Object: pod(tc.code)})
		if err != nil || done != tc.done {
			t.Errorf("exit code %d: done %v, err %v; want done %v", tc.code, done, err, tc.done)
			continue
		}
		if done && b.exitCode != int(tc.code) {
			t.Errorf("exit code %d reported as %d", tc.code, b.exitCode)
		}
	}
}

func TestBuildExitCodesThatLookLikeEnvgensSaySo(t *testing.T) {
	for code, want := range map[int]string{
		3:   "build failed with exit code 3",
		124: "build failed with exit code 124 (the build's own exit code, not envgen's 124)",
		143: "build failed with exit code 143 (the build's own exit code, not envgen's 143)",
	} {
		if got := (&BuildFailedError{Ran: true, ExitCode: code}).Error(); got != want {
			t.Errorf("%d: %q, want %q", code, got, want)
		}
	}
}

// A staged build's build time is the time some stage's container ran:
// overlapping stages count once, gaps not at all.
func TestCoveredCountsOverlapsOnce(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(1000+int64(s), 0) }
	got := covered([]interval{{at(5), at(9)}, {at(0), at(3)}, {at(2), at(4)}, {at(6), at(7)}})
	if want := 8 * time.Second; got != want { // [0,4] and [5,9]
		t.Errorf("covered %s, want %s", got, want)
	}
}
