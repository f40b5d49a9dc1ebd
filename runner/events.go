package runner

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// A run says what happens as one stream of typed events. The live
// progress (console), the report (and the JUnit file made from it) are
// consumers of that stream: a new output is a new Sink, not an edit in
// every phase. Stages running side by side emit into the same stream.

// Event is one thing that happened during a run.
type Event interface{ event() }

// StatusEvent is what the run is doing now: the live status line.
type StatusEvent struct{ Message string }

// NoticeEvent is a line that stays: a warning, a diagnostic, a summary.
type NoticeEvent struct{ Message string }

// LogEvent is one line of a build Pod's log (with its newline). Stage is
// empty for an unstaged build.
type LogEvent struct{ Stage, Text string }

// PhaseEvent says a phase of the run, or of one stage, ended at At. Cut
// says how it ended early ("interrupted", "timed out", "failed"), or is
// empty.
type PhaseEvent struct {
	Stage, Phase, Cut string
	At                time.Time
}

// StageStartedEvent says a stage's needs passed and its Pod is being
// created.
type StageStartedEvent struct {
	Stage string
	At    time.Time
}

// StageEndedEvent says how a stage ended: it passed, failed, or was
// skipped (a failure came first, or one of its needs failed).
type StageEndedEvent struct {
	Stage   string
	Outcome string // "succeeded", "failed", "timeout", "interrupted", "error", "skipped"
	// ExitCode is the stage's build container's, when it ran to its end.
	ExitCode *int
	Error    string
	At       time.Time
}

// LogsIncompleteEvent says that the end of a build Pod's log could not be
// read (Stage empty for an unstaged build).
type LogsIncompleteEvent struct{ Stage, Pod, Why string }

// ArtifactsEvent says what was copied out of a build Pod (Stage empty for
// an unstaged build).
type ArtifactsEvent struct {
	Stage  string
	Copied *CopiedArtifacts
}

func (StatusEvent) event()         {}
func (NoticeEvent) event()         {}
func (LogEvent) event()            {}
func (PhaseEvent) event()          {}
func (StageStartedEvent) event()   {}
func (StageEndedEvent) event()     {}
func (ArtifactsEvent) event()      {}
func (LogsIncompleteEvent) event() {}

// Sink consumes a run's events, one at a time, in order.
type Sink interface{ Handle(Event) }

// events fans each event out to the sinks, one event at a time: stages
// running side by side never interleave inside a consumer.
type events struct {
	mu    sync.Mutex
	sinks []Sink
}

func (e *events) emit(ev Event) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.sinks {
		s.Handle(ev)
	}
}

// Status and Line are the two kinds of message the run's own code says.
func (e *events) Status(format string, args ...any) {
	e.emit(StatusEvent{Message: fmt.Sprintf(format, args...)})
}

func (e *events) Line(format string, args ...any) {
	e.emit(NoticeEvent{Message: fmt.Sprintf(format, args...)})
}

func (e *events) phase(stage, phase string) {
	e.emit(PhaseEvent{Stage: stage, Phase: phase, At: time.Now()})
}

// logWriter turns a build's log lines into events.
func (e *events) logWriter(stage string) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		e.emit(LogEvent{Stage: stage, Text: string(b)})
		return len(b), nil
	})
}

// console is the live view of a run: progress messages on the progress
// writer (stderr), the build's log on the log writer (stdout), each line
// of a stage's log prefixed with the stage's name.
type console struct {
	progress  *Progress
	logs      io.Writer
	logPrefix string
}

func (c *console) Handle(ev Event) {
	switch ev := ev.(type) {
	case StatusEvent:
		c.progress.Status("%s", ev.Message)
	case NoticeEvent:
		c.progress.Line("%s", ev.Message)
	case LogEvent:
		if c.logs == nil {
			return
		}
		prefix := c.logPrefix
		if ev.Stage != "" {
			prefix += "[" + ev.Stage + "] "
		}
		text := ev.Text
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		c.progress.Writer(c.logs).Write([]byte(prefix + text))
	case StageStartedEvent:
		c.progress.Status("stage %s: starting", ev.Stage)
	case StageEndedEvent:
		msg := "stage " + ev.Stage + ": " + ev.Outcome
		if ev.ExitCode != nil {
			msg += fmt.Sprintf(" (exit code %d)", *ev.ExitCode)
		}
		switch {
		case ev.Outcome == "skipped":
			msg += " (" + ev.Error + ")"
		case ev.Error != "" && ev.Outcome != "succeeded":
			msg += ": " + ev.Error
		}
		c.progress.Line("envgen: %s", msg)
	}
}
