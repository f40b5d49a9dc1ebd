package runner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/internal/termsafe"
)

// logStreamer copies a container's log to out as it is written. When the
// stream ends early (a dropped connection, a kubelet that does not follow)
// it reconnects from the last timestamp it printed and skips what it has
// already printed, so no line is lost or repeated.
type logStreamer struct {
	client    *Core
	namespace string
	pod       string
	container string
	out       io.Writer
	progress  *events

	stage   string
	lastTS  time.Time // timestamp of the last line printed
	atLast  int       // lines printed with exactly lastTS
	printed int       // lines printed in all
	// partial is the line without its newline the last read ended in
	// ("" if none): one the runtime is still writing, or the build's last
	// words printed without a newline (containerd writes those as a
	// partial record that nothing completes).
	partial  string
	reported map[string]bool
	idle     *time.Timer // the final read's bound by silence, while it reads
}

// retryLogsEvery is how long the streamer waits before reconnecting.
var retryLogsEvery = time.Second

// finalIdle bounds the last read after the container exited by silence,
// not by its length: a log of a million lines takes as long as it takes
// (within the run's timeout), a kubelet that stops sending is given up on.
var finalIdle = 10 * time.Second

// settle is how long the log must bring no new line, after a read that
// brought some, before the final reads call it complete: the exit of a
// busy build is seen while the runtime is still writing its last lines.
var settle = 500 * time.Millisecond

// maxLogLine is the longest line envgen prints whole; the rest of a longer
// one is dropped and the cut said, so one line cannot take envgen's memory.
const maxLogLine = 1 << 20

// run streams until finished is closed, then reads the rest to the
// stream's end (so the log is complete), then returns. A rest it cannot
// read is said, never dropped silently.
func (s *logStreamer) run(ctx context.Context, finished <-chan struct{}) {
	for {
		select {
		case <-finished:
			if err := s.readRest(ctx); err != nil && ctx.Err() == nil {
				s.incomplete(err)
			}
			return
		case <-ctx.Done():
			return
		default:
		}
		s.report(s.followUntil(ctx, finished))
		select {
		case <-ctx.Done():
			return
		case <-finished:
		case <-time.After(retryLogsEvery):
		}
	}
}

// followUntil follows the log until the stream ends or the build finished:
// a kubelet may keep a follow stream open after the container exited.
func (s *logStreamer) followUntil(ctx context.Context, finished <-chan struct{}) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-finished:
			cancel()
		case <-ctx.Done():
		}
	}()
	return s.readOnce(ctx, true)
}

// readRest reads the log to its end once the container exited. The
// runtime may still be writing it when the exit is seen, and the kubelet
// hands out what the file holds, a half-written last line included. So
// the rest is read again, from the last line printed, until it has
// settled: a read brings no new line, settle after the last one that did
// (a log that was caught up and ends on a whole line takes one read). A
// line without its newline that outlasts that is the log's end as the
// node has it, and is printed as its last line.
func (s *logStreamer) readRest(ctx context.Context) error {
	lastNew := time.Now()
	for first := true; ; first = false {
		before := s.printed
		if err := s.readOnce(ctx, false); err != nil {
			return err
		}
		settled := time.Since(lastNew) >= settle
		switch {
		case s.printed > before:
			lastNew = time.Now()
		case s.partial != "" && settled:
			s.take(s.partial, time.Time{})
			return nil
		case s.partial == "" && (first || settled):
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(settle / 5):
		}
	}
}

// report says once per distinct problem that logs cannot be had; the run
// goes on waiting for the build regardless.
func (s *logStreamer) report(err error) {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	msg := err.Error()
	if s.reported == nil {
		s.reported = map[string]bool{}
	}
	if s.reported[msg] {
		return
	}
	s.reported[msg] = true
	s.progress.Line("envgen: logs of %s unavailable (still waiting for the build): %s", s.pod, oneLine(msg))
}

// oneLine is the first line of what the cluster says of a Pod or an event
// (a probe's output, a status message), escaped: the build writes some of
// it, and it must not drive the terminal.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return termsafe.String(s)
}

// incomplete says that the log's end could not be read: in the log
// itself, on the console and in the report. The build's exit code stands.
func (s *logStreamer) incomplete(err error) {
	why := oneLine(err.Error())
	switch {
	case errors.Is(err, errLogIdle):
		why = fmt.Sprintf("the kubelet sent nothing for %s", finalIdle)
	}
	fmt.Fprintf(s.out, "[envgen: the log of %s ends here, incomplete: %s]\n", s.pod, why)
	s.progress.Line("envgen: the log of %s is incomplete (%s): the lines after the last one shown are missing", s.pod, why)
	s.progress.emit(LogsIncompleteEvent{Stage: s.stage, Pod: s.pod, Why: why})
}

var errLogIdle = errors.New("no log line for too long")

// gap says, in the log where it is, on the console and in the report, that
// lines between two times may be missing. The build's exit code stands.
func (s *logStreamer) gap(from, to time.Time) {
	why := fmt.Sprintf("lines written between %s and %s may be missing: the log the kubelet served no longer held the last line envgen printed (rotated at the kubelet's containerLogMaxSize)",
		from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(s.out, "[envgen: %s]\n", why)
	s.progress.Line("envgen: the log of %s has a gap: %s", s.pod, why)
	s.progress.emit(LogsIncompleteEvent{Stage: s.stage, Pod: s.pod, Why: why})
}

func (s *logStreamer) readOnce(ctx context.Context, follow bool) error {
	if !follow {
		// Bounded by silence: cancelled when no byte came for finalIdle.
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		timer := time.AfterFunc(finalIdle, func() { cancel(errLogIdle) })
		defer timer.Stop()
		s.idle = timer
		defer func() { s.idle = nil }()
	}
	opts := &corev1.PodLogOptions{Container: s.container, Follow: follow, Timestamps: true}
	if !s.lastTS.IsZero() {
		// SinceTime has second precision: ask from the start of that second
		// and skip what was printed.
		opts.SinceTime = &metav1.Time{Time: s.lastTS.Truncate(time.Second)}
	}
	stream, err := s.client.PodLogs(ctx, s.namespace, s.pod, opts)
	if err == nil {
		defer stream.Close()
		err = s.consume(stream)
	}
	if err != nil && errors.Is(context.Cause(ctx), errLogIdle) {
		return errLogIdle
	}
	return err
}

// consume prints the lines of one log stream that were not printed
// before: a reconnect starts at the second of the last line printed.
func (s *logStreamer) consume(stream io.Reader) error {
	skipBefore, skipAt := s.lastTS, s.atLast
	skipped := 0
	s.partial = ""
	// A read after the first asks from the second of the last line
	// printed, so it starts with that line again, or earlier. Starting
	// later means the file the kubelet read from no longer holds it: the
	// kubelet rotated the log (containerLogMaxSize) and what lay between
	// is in a file no log request reads.
	checkGap := !skipBefore.IsZero()
	reader := bufio.NewReaderSize(stream, 64<<10)
	for {
		line, err := s.readLine(reader)
		if err != nil && line != "" && !strings.HasSuffix(line, "\n") {
			// Cut mid-line: by a cancelled or broken stream, or, at the
			// stream's end, a line the runtime may still be writing (the
			// kubelet ends every line it read whole with its newline).
			// The next read, from the last whole line's time, brings it
			// whole; readRest decides when it is whole as it is.
			if err == io.EOF {
				s.partial = line
			}
			line = ""
		}
		if line != "" {
			skip := false
			ts, _, ok := splitTimestamp(line)
			if ok && checkGap {
				checkGap = false
				if ts.After(skipBefore) {
					s.gap(skipBefore, ts)
				}
			}
			if ok && ts.Equal(skipBefore) && skipped < skipAt {
				skip, skipped = true, skipped+1
			}
			if !skip {
				s.take(line, skipBefore)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// take prints one line of the kubelet's stream unless it is older than
// skipBefore (a reconnect starts at the second of the last line printed),
// and remembers its time.
func (s *logStreamer) take(line string, skipBefore time.Time) {
	ts, text, ok := splitTimestamp(line)
	switch {
	case !ok:
		s.print(line)
		s.printed++
	case ts.Before(skipBefore):
	default:
		s.print(text)
		s.printed++
		if ts.Equal(s.lastTS) {
			s.atLast++
		} else {
			s.lastTS, s.atLast = ts, 1
		}
	}
}

// readLine reads one line of at most maxLogLine bytes: the rest of a
// longer one is read and dropped, and the cut marked. Each read of the
// stream keeps the final read's idle bound from firing.
func (s *logStreamer) readLine(r *bufio.Reader) (string, error) {
	var line []byte
	cut := false
	for {
		chunk, err := r.ReadSlice('\n')
		if len(chunk) > 0 && s.idle != nil {
			s.idle.Reset(finalIdle)
		}
		if !cut {
			if room := maxLogLine - len(line); len(chunk) > room {
				line, cut = append(line, chunk[:room]...), true
			} else {
				line = append(line, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if cut {
			line = append(line, fmt.Sprintf(" [envgen: line cut at %d bytes]\n", maxLogLine)...)
		}
		return string(line), err
	}
}

func (s *logStreamer) print(text string) {
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	io.WriteString(s.out, text)
}

// splitTimestamp splits "2026-01-01T00:00:00.000000000Z text" as the
// kubelet writes it with timestamps=true.
func splitTimestamp(line string) (time.Time, string, bool) {
	stamp, text, ok := strings.Cut(line, " ")
	if !ok {
		stamp, text = strings.TrimRight(line, "\n"), "\n"
	}
	ts, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return time.Time{}, "", false
	}
	return ts, text, true
}
