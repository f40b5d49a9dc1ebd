package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"envgen.dev/envgen/manifests"
)

// StageError is the failure of one stage of a staged build; it wraps the
// stage's own error (a BuildFailedError carries its exit code).
type StageError struct {
	Stage, Pod string
	Err        error
}

func (e *StageError) Error() string { return "stage " + e.Stage + ": " + e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// stageDone is a stage's Pod run to its end.
type stageDone struct {
	build buildPod
	res   podResult
}

// stages runs a staged build as a graph: every stage whose needs have
// passed starts at once, side by side with the others; after the first
// failure no stage starts, the running ones run to their end, and that
// first failure is the run's. Stages never started are reported skipped.
func (r *run) stages(builds []buildPod) error {
	passed := map[string]bool{}
	started := map[string]bool{}
	done := make(chan stageDone)
	running := 0
	var first error
	for {
		if first == nil && r.ctx.Err() == nil {
			for _, b := range builds {
				if started[b.stage] || !allPassed(b.needs, passed) {
					continue
				}
				started[b.stage] = true
				running++
				r.events.emit(StageStartedEvent{Stage: b.stage, At: time.Now()})
				go func() { done <- stageDone{build: b, res: r.pod(b)} }()
			}
		}
		if running == 0 {
			break
		}
		d := <-done
		running--
		err := r.stageEnded(d)
		if err == nil {
			passed[d.build.stage] = true
		} else if first == nil {
			first = &StageError{Stage: d.build.stage, Pod: d.build.pod.GetName(), Err: err}
		}
	}
	r.events.phase("", PhaseStages)
	for _, b := range builds {
		if !started[b.stage] {
			r.events.emit(StageEndedEvent{Stage: b.stage, Outcome: "skipped", Error: skippedBecause(b, passed, first), At: time.Now()})
		}
	}
	for _, b := range builds {
		// The artifacts of every stage that ran, after all of them ended:
		// the copy is not on the path of the stages that follow.
		if started[b.stage] {
			if err := r.artifacts(b, podResult{started: true, outcome: first}); err != nil && first == nil {
				first = err
			}
		}
	}
	if r.opts.Artifacts != nil {
		r.events.phase("", PhaseArtifacts)
	}
	return first
}

// stageEnded reports how a stage ended and returns its failure, if any.
func (r *run) stageEnded(d stageDone) error {
	err := d.res.err
	if err != nil {
		err = r.classify(err)
	} else {
		err = d.res.outcome
	}
	ended := StageEndedEvent{Stage: d.build.stage, Outcome: outcomeOf(err), At: time.Now()}
	if d.res.exited {
		code := d.res.exitCode
		ended.ExitCode = &code
	}
	if err != nil {
		ended.Error = err.Error()
	}
	r.events.emit(ended)
	return err
}

func allPassed(needs []string, passed map[string]bool) bool {
	for _, n := range needs {
		if !passed[n] {
			return false
		}
	}
	return true
}

func skippedBecause(b buildPod, passed map[string]bool, first error) string {
	for _, n := range b.needs {
		if !passed[n] {
			return "needs " + n + ", which did not pass"
		}
	}
	if first != nil {
		return "not started after the first failure"
	}
	return "not started"
}

// outcomeOf names how a build or a stage ended, as the report does.
func outcomeOf(err error) string {
	var failed *BuildFailedError
	var image *ImageBuildError
	var timeout *TimeoutError
	switch {
	case err == nil:
		return "succeeded"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.As(err, &timeout):
		return "timeout"
	case errors.As(err, &failed), errors.As(err, &image):
		return "failed"
	}
	return "error"
}

// SelectStage keeps, of a staged build's objects, the Pods of stage and of
// the stages it needs (transitively), for envgen run --stage. The other
// objects stay. An unknown stage, or a build without stages, is an error
// that lists the stages.
func SelectStage(objects []map[string]any, stage string) ([]map[string]any, error) {
	builds, _, _, err := split(objects)
	if err != nil {
		return nil, err
	}
	needs := map[string][]string{}
	for _, b := range builds {
		if b.stage != "" {
			needs[b.stage] = b.needs
		}
	}
	if len(needs) == 0 {
		return nil, fmt.Errorf("--stage %s: the build has no stages (ci.stages)", stage)
	}
	if _, ok := needs[stage]; !ok {
		return nil, fmt.Errorf("--stage %s: no such stage (stages: %s)", stage, strings.Join(slices.Sorted(maps.Keys(needs)), ", "))
	}
	keep := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if keep[name] {
			return
		}
		keep[name] = true
		for _, n := range needs[name] {
			visit(n)
		}
	}
	visit(stage)
	var out []map[string]any
	for _, m := range objects {
		u := &unstructured.Unstructured{Object: m}
		if name := u.GetLabels()[manifests.LabelStage]; name != "" && u.GetKind() == "Pod" && !keep[name] {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}
