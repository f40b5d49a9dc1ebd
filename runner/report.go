package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Phase is one measured step of a run.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Report is what a run measured and how it ended.
type Report struct {
	Service   string `json:"service"`
	BuildID   string `json:"buildId"`
	Namespace string `json:"namespace"`
	// Started is when envgen began (wall clock); the phases follow on
	// from it.
	Started time.Time `json:"started"`
	Phases  []Phase   `json:"phases"`
	// Total is the wall time of the run; Build the time the build's own
	// container ran; Overhead the rest: what Kubernetes and envgen cost.
	TotalSeconds    float64 `json:"totalSeconds"`
	BuildSeconds    float64 `json:"buildSeconds"`
	OverheadSeconds float64 `json:"overheadSeconds"`
	// ExitCode is envgen run's own exit code; ExitCodeFrom says whose it
	// is: "build" (the build container's, 0 included) or "envgen" (124
	// timeout, 125 cluster, 130/143 signal, 1/2 input). BuildExitCode is
	// the build container's, when it ran to its end.
	ExitCode      int    `json:"exitCode"`
	ExitCodeFrom  string `json:"exitCodeFrom"`
	BuildExitCode *int   `json:"buildExitCode,omitempty"`
	Outcome       string `json:"outcome"`
	Error         string `json:"error,omitempty"`
	Cleaned       bool   `json:"cleanedUp"`
	// Artifacts is what --artifacts copied, when asked.
	Artifacts *CopiedArtifacts `json:"artifacts,omitempty"`

	start time.Time
	last  time.Time
	build time.Duration
	// pending is the phase under way: the next one after the last mark.
	pending string
}

// The phases, in order.
const (
	PhaseCompile   = "compile"
	PhaseApply     = "namespace+apply"
	PhaseServices  = "services ready"
	PhaseScheduled = "pod scheduled"
	PhaseStarted   = "containers started"
	PhaseFinished  = "build finished"
	PhaseArtifacts = "artifacts"
	PhaseCleanup   = "cleanup"
)

func newReport(start time.Time) *Report {
	return &Report{Started: start.UTC(), start: start, last: start}
}

// phaseOrder is the order of a run's phases; services and artifacts are
// skipped when there are none.
var phaseOrder = []string{PhaseCompile, PhaseApply, PhaseServices, PhaseScheduled, PhaseStarted, PhaseFinished, PhaseArtifacts, PhaseCleanup}

// mark ends the current phase now.
func (r *Report) mark(name string) {
	now := time.Now()
	d := now.Sub(r.last)
	r.Phases = append(r.Phases, Phase{Name: name, Seconds: round(d)})
	if name == PhaseFinished {
		r.build = d
	}
	r.last = now
	r.pending = ""
	for i, p := range phaseOrder[:len(phaseOrder)-1] {
		if p == name {
			r.pending = phaseOrder[i+1]
		}
	}
}

// markCut ends the phase under way, which did not finish: how is
// "interrupted", "timed out" or "failed". The cleanup that follows is
// then its own phase, not the wait that was cut.
func (r *Report) markCut(how string) {
	if r.pending != "" && r.pending != PhaseCleanup {
		r.mark(r.pending + " (" + how + ")")
	}
}

func (r *Report) finish() {
	total := time.Since(r.start)
	r.TotalSeconds = round(total)
	r.BuildSeconds = round(r.build)
	r.OverheadSeconds = round(total - r.build)
}

func round(d time.Duration) float64 { return float64(d.Round(time.Millisecond)) / float64(time.Second) }

// Print writes the timing breakdown as a table.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "timing (namespace %s):\n", r.Namespace)
	for _, p := range r.Phases {
		fmt.Fprintf(w, "  %-20s %8.3fs\n", p.Name, p.Seconds)
	}
	fmt.Fprintf(w, "  %-20s %8.3fs (build %.3fs, overhead %.3fs)\n", "total", r.TotalSeconds, r.BuildSeconds, r.OverheadSeconds)
}

// JSON returns the report as indented JSON.
func (r *Report) JSON() ([]byte, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	return append(data, '\n'), err
}
