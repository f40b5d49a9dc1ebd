package runner

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Progress reports what a run is doing. On a terminal it keeps one live
// status line; otherwise (Jenkins) it writes plain timestamped lines.
type Progress struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	start    time.Time
	live     bool
}

// NewProgress writes to w; terminal selects the live status line.
func NewProgress(w io.Writer, terminal bool) *Progress {
	return &Progress{w: w, terminal: terminal, start: time.Now()}
}

// Status reports a step.
func (p *Progress) Status(format string, args ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	elapsed := time.Since(p.start).Round(100 * time.Millisecond)
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K[%6s] %s", elapsed, msg)
		p.live = true
		return
	}
	fmt.Fprintf(p.w, "%s envgen: %s\n", time.Now().UTC().Format("15:04:05.000"), msg)
}

// Line writes a line that stays, ending any live status line first.
func (p *Progress) Line(format string, args ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLive()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// Writer returns a writer that ends the live status line before each write,
// for output that must stay (the build's logs).
func (p *Progress) Writer(w io.Writer) io.Writer {
	return writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.endLive()
		return w.Write(b)
	})
}

func (p *Progress) endLive() {
	if p.live {
		fmt.Fprint(p.w, "\r\033[K")
		p.live = false
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }
