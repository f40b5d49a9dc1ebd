package runner

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"
)

// Phase is one measured step of a run.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Report is what a run measured and how it ended.
type Report struct {
	Service string `json:"service"`
	BuildID string `json:"buildId"`
	// Commit is the checkout's git commit (HEAD), when envgen.cue's
	// directory is in a git repository.
	Commit    string `json:"commit,omitempty"`
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
	// LogsIncomplete names the build Pods whose log's end could not be
	// read, and why; the build's exit code stands.
	LogsIncomplete []string `json:"logsIncomplete,omitempty"`
	// Artifacts is what --artifacts copied, when asked (of an unstaged
	// build; a stage's are in its own report).
	Artifacts *CopiedArtifacts `json:"artifacts,omitempty"`
	// Stages are the stages of a staged build, in the order they ended
	// (skipped ones last).
	Stages []*StageReport `json:"stages,omitempty"`
	// Image is the image the run built first, when it did; its build's
	// time is ImageBuildSeconds, neither the build's nor overhead.
	Image             *BuiltImage `json:"image,omitempty"`
	ImageBuildSeconds float64     `json:"imageBuildSeconds,omitempty"`
	// Containers are the images the test services' and the build Pod's
	// containers ran, as the kubelet reported them.
	Containers []ContainerImage `json:"containers,omitempty"`

	start time.Time
	last  time.Time
	build time.Duration
	image time.Duration
	// pending is the phase under way: the next one after the last mark.
	pending string
	order   []string
	// ran are the intervals in which a stage's build container ran.
	ran    []interval
	stages map[string]*StageReport
}

// StageReport is what one stage of a staged build measured.
type StageReport struct {
	Name string `json:"name"`
	// Started is when its needs had passed and its Pod was created,
	// in seconds from the run's start; empty for a skipped stage.
	StartedAt *float64 `json:"startedAtSeconds,omitempty"`
	Phases    []Phase  `json:"phases,omitempty"`
	// BuildSeconds is how long its build container ran.
	BuildSeconds float64          `json:"buildSeconds"`
	Outcome      string           `json:"outcome"`
	ExitCode     *int             `json:"exitCode,omitempty"`
	Error        string           `json:"error,omitempty"`
	Artifacts    *CopiedArtifacts `json:"artifacts,omitempty"`

	last time.Time
}

type interval struct{ from, to time.Time }

// The phases, in order.
const (
	PhaseCompile   = "compile"
	PhaseImage     = "image build"
	PhaseApply     = "namespace+apply"
	PhaseServices  = "services ready"
	PhaseScheduled = "pod scheduled"
	PhaseStarted   = "containers started"
	PhaseFinished  = "build finished"
	PhaseStages    = "stages"
	PhaseArtifacts = "artifacts"
	PhaseCleanup   = "cleanup"
)

// newReport starts the report of a run that began at start; builds says
// that it builds its image first.
func newReport(start time.Time, builds bool) *Report {
	r := &Report{Started: start.UTC(), start: start, last: start, stages: map[string]*StageReport{}}
	r.setOrder(phaseOrder, builds)
	return r
}

// staged switches to a staged build's phases, once the objects are known.
func (r *Report) staged(staged bool) {
	if staged {
		r.setOrder(stagedPhaseOrder, slices.Contains(r.order, PhaseImage))
	}
}

func (r *Report) setOrder(order []string, builds bool) {
	if builds {
		// The image builds beside the namespace and the test services;
		// its phase is what the run waited for it after them.
		at := slices.Index(order, PhaseServices) + 1
		order = slices.Insert(slices.Clone(order), at, PhaseImage)
	}
	r.order = order
	r.pending = ""
	for i, p := range r.order[:len(r.order)-1] {
		if len(r.Phases) > 0 && p == r.Phases[len(r.Phases)-1].Name {
			r.pending = r.order[i+1]
		}
	}
	if len(r.Phases) == 0 {
		r.pending = r.order[0]
	}
}

// phaseOrder is the order of a run's phases; services and artifacts are
// skipped when there are none. A staged build has one phase for all its
// stages, each stage its own phases (scheduled, started, finished).
var (
	phaseOrder       = []string{PhaseCompile, PhaseApply, PhaseServices, PhaseScheduled, PhaseStarted, PhaseFinished, PhaseArtifacts, PhaseCleanup}
	stagedPhaseOrder = []string{PhaseCompile, PhaseApply, PhaseServices, PhaseStages, PhaseArtifacts, PhaseCleanup}
)

// Handle records the run's events: the report is one of their consumers.
func (r *Report) Handle(ev Event) {
	switch ev := ev.(type) {
	case PhaseEvent:
		if ev.Stage == "" {
			r.mark(ev.Phase, ev.At)
			return
		}
		st := r.stage(ev.Stage)
		d := ev.At.Sub(st.last)
		st.Phases = append(st.Phases, Phase{Name: ev.Phase, Seconds: round(d)})
		st.last = ev.At
		if ev.Phase == PhaseFinished {
			st.BuildSeconds = round(d)
			r.ran = append(r.ran, interval{from: ev.At.Add(-d), to: ev.At})
		}
	case StageStartedEvent:
		st := r.stage(ev.Stage)
		st.last = ev.At
		at := round(ev.At.Sub(r.start))
		st.StartedAt = &at
	case StageEndedEvent:
		st := r.stage(ev.Stage)
		st.Outcome, st.ExitCode, st.Error = ev.Outcome, ev.ExitCode, ev.Error
		r.Stages = append(r.Stages, st)
	case LogsIncompleteEvent:
		r.LogsIncomplete = append(r.LogsIncomplete, ev.Pod+": "+ev.Why)
	case ArtifactsEvent:
		if ev.Stage == "" {
			r.Artifacts = ev.Copied
		} else {
			r.stage(ev.Stage).Artifacts = ev.Copied
		}
	}
}

func (r *Report) stage(name string) *StageReport {
	st, ok := r.stages[name]
	if !ok {
		st = &StageReport{Name: name}
		r.stages[name] = st
	}
	return st
}

// mark ends the current phase at now.
func (r *Report) mark(name string, now time.Time) {
	d := now.Sub(r.last)
	r.Phases = append(r.Phases, Phase{Name: name, Seconds: round(d)})
	switch name {
	case PhaseFinished:
		r.build = d
	case PhaseImage:
		r.image = d
		r.ImageBuildSeconds = round(d)
	}
	r.last = now
	r.pending = ""
	for i, p := range r.order[:len(r.order)-1] {
		if p == name {
			r.pending = r.order[i+1]
		}
	}
}

// markCut ends the phase under way, which did not finish: how is
// "interrupted", "timed out" or "failed". The cleanup that follows is
// then its own phase, not the wait that was cut.
func (r *Report) markCut(how string) {
	if r.pending != "" && r.pending != PhaseCleanup {
		r.mark(r.pending+" ("+how+")", time.Now())
	}
}

func (r *Report) finish() {
	if len(r.ran) > 0 {
		r.build = covered(r.ran)
	}
	total := time.Since(r.start)
	r.TotalSeconds = round(total)
	r.BuildSeconds = round(r.build)
	r.OverheadSeconds = round(total - r.build - r.image)
}

// covered is how long at least one of the intervals lasted: the time some
// stage's build container was running.
func covered(intervals []interval) time.Duration {
	sorted := slices.SortedFunc(slices.Values(intervals), func(a, b interval) int { return a.from.Compare(b.from) })
	var total time.Duration
	var end time.Time
	for _, iv := range sorted {
		if iv.from.After(end) {
			end = iv.from
		}
		if iv.to.After(end) {
			total += iv.to.Sub(end)
			end = iv.to
		}
	}
	return total
}

func round(d time.Duration) float64 { return float64(d.Round(time.Millisecond)) / float64(time.Second) }

// Print writes the timing breakdown as a table.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "timing (namespace %s):\n", r.Namespace)
	for _, p := range r.Phases {
		fmt.Fprintf(w, "  %-20s %8.3fs\n", p.Name, p.Seconds)
		if p.Name == PhaseStages {
			for _, st := range r.Stages {
				fmt.Fprintf(w, "    %-18s %8.3fs %s\n", st.Name, st.BuildSeconds, st.Outcome)
			}
		}
	}
	if r.Image != nil {
		fmt.Fprintf(w, "  %-20s %8.3fs (build %.3fs, image build %.3fs, overhead %.3fs)\n", "total", r.TotalSeconds, r.BuildSeconds, r.ImageBuildSeconds, r.OverheadSeconds)
		fmt.Fprintf(w, "image %s@%s: %d of %d steps from the cache, %d files (%d bytes) sent\n",
			imageRepository(r.Image.Image), r.Image.Digest, r.Image.Cached, r.Image.Steps, r.Image.ContextFiles, r.Image.ContextBytes)
		return
	}
	fmt.Fprintf(w, "  %-20s %8.3fs (build %.3fs, overhead %.3fs)\n", "total", r.TotalSeconds, r.BuildSeconds, r.OverheadSeconds)
}

// JSON returns the report as indented JSON.
func (r *Report) JSON() ([]byte, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	return append(data, '\n'), err
}
