package compiler

import (
	"fmt"
	"slices"
	"strings"

	"cuelang.org/go/cue"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/model"
)

// checkStages wants the stages of a build to form a graph envgen run can
// walk: every need names another stage, once, and no stage needs itself
// through others. Each stage's image is pinned as the build's is.
func checkStages(env string, s *model.Service, at func(string) cue.Value, fail func(field, msg string) error) error {
	stages := s.CI.Stages
	if len(stages) == 0 {
		return nil
	}
	if len(s.CI.Command) > 0 && at("ci.command").Exists() {
		return fail("ci.command", "ci.command has no effect when ci.stages is set: each stage has its own command")
	}
	names := sorted.Keys(stages)
	for _, name := range names {
		prefix := "ci.stages." + Label(name)
		stage := stages[name]
		if stage.Tag != "" && stage.Digest != "" {
			return fail(prefix+".digest", "give a tag or a digest, not both")
		}
		if pinned(env) && stage.Tag == "latest" {
			return fail(prefix+".tag", `"latest" is not a pinned image; give a fixed tag or a digest`)
		}
		podName := manifests.StagePodName(s.Name, name)
		if len(podName) > maxObjectName {
			return fail(prefix, fmt.Sprintf("the stage's Pod would be named %q (%d characters; Kubernetes allows %d): shorten name or the stage's name", podName, len(podName), maxObjectName))
		}
		for i, need := range stage.Needs {
			field := fmt.Sprintf("%s.needs[%d]", prefix, i)
			switch {
			case need == name:
				return fail(field, fmt.Sprintf("stage %q needs itself", name))
			case slices.Index(stage.Needs, need) < i:
				return fail(field, fmt.Sprintf("%q is listed twice", need))
			}
			if _, ok := stages[need]; !ok {
				return fail(field, fmt.Sprintf("no stage named %q (stages: %s)", need, strings.Join(names, ", ")))
			}
		}
	}
	if cycle := stageCycle(stages); cycle != nil {
		return fail("ci.stages."+Label(cycle[0])+".needs", fmt.Sprintf("the stages need each other in a circle: %s; no stage of it could start", strings.Join(cycle, " → ")))
	}
	return nil
}

// stageCycle returns a circle of needs (its first stage repeated at the
// end), or nil. Depth-first, in name order, so the answer is stable.
func stageCycle(stages map[string]model.Stage) []string {
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(name string) []string
	visit = func(name string) []string {
		state[name] = onPath
		path = append(path, name)
		for _, need := range stages[name].Needs {
			switch state[need] {
			case onPath:
				start := slices.Index(path, need)
				return append(slices.Clone(path[start:]), need)
			case unseen:
				if cycle := visit(need); cycle != nil {
					return cycle
				}
			}
		}
		path = path[:len(path)-1]
		state[name] = done
		return nil
	}
	for _, name := range sorted.Keys(stages) {
		if state[name] == unseen {
			if cycle := visit(name); cycle != nil {
				return cycle
			}
		}
	}
	return nil
}
