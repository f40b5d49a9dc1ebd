package vet

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/secretlike"
	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/semdiff"
)

// invariantRule reports the invariants of envgen.cue's vet section.
var invariantRule = Rule{
	ID: "EG010", Severity: Error, Summary: "environments differ only where envgen.cue says they may",
	Fix: "undo the difference, or add the field to the invariant's mayDiffer",
}

func checkInvariants(c *context) {
	p := c.project
	for _, name := range sorted.Keys(p.Vet.Invariants) {
		inv := p.Vet.Invariants[name]
		a, errA := p.Environment(inv.Environments[0])
		b, errB := p.Environment(inv.Environments[1])
		if errA != nil || errB != nil {
			c.report("", "vet.invariants."+name, "invariant %s names an unknown environment", name)
			continue
		}
		envA, envB := inv.Environments[0], inv.Environments[1]
		for _, change := range semdiff.Values("", modelFields(a), modelFields(b)) {
			// The top-level field: files["/etc/x.yaml"] is in files.
			top := change.Path
			if i := strings.IndexAny(top, ".["); i >= 0 {
				top = top[:i]
			}
			// Environments live on different clusters by design.
			if slices.Contains(inv.MayDiffer, top) || top == "cluster" {
				continue
			}
			c.findings = append(c.findings, Finding{
				Rule: c.rule.ID, Severity: c.rule.Severity, Environment: envB, Field: change.Path,
				Position: where(p, envB, change.Path),
				Message: fmt.Sprintf("invariant %s: %s has %s (%s), %s has %s (%s)", name,
					envA, shown(change.Path, change.Old), where(p, envA, change.Path),
					envB, shown(change.Path, change.New), where(p, envB, change.Path)),
				Fix: c.rule.Fix,
			})
		}
	}
}

// where is the position of a field of an environment's model as
// modelFields lays it out: releases.canary.replicas is the canary's
// replicas in that environment.
func where(p *compiler.Project, env, path string) string {
	if path != "releases" && !strings.HasPrefix(path, "releases.") {
		return p.Sources().Where(env, path)
	}
	release, field, _ := strings.Cut(strings.TrimPrefix(path, "releases."), ".")
	if _, err := p.Environment(compiler.ReleaseScope(env, release)); err == nil && field != "" {
		return p.Sources().Where(compiler.ReleaseScope(env, release), field)
	}
	// A release as a whole, or all of them (one environment has some, the
	// other none).
	if path != "releases" {
		if pos := p.Sources().TopLevel("releases." + compiler.Label(release)); pos != "" {
			return pos
		}
	}
	if pos := p.Sources().TopLevel("releases"); pos != "" {
		return pos
	}
	return p.Sources().Where(env, "releases")
}

// shown is a value as a finding may print it: never a literal EG006 would
// flag.
func shown(path string, v any) string {
	name := path[strings.LastIndexAny(path, ".[")+1:]
	if s, ok := v.(string); ok && (secretlike.Name(name) || secretlike.Value(s)) {
		return "a literal value (not shown)"
	}
	if m, ok := v.(map[string]any); ok {
		if s, ok := m["Value"].(string); ok && s != "" && (secretlike.Name(name) || secretlike.Value(s)) {
			return "a literal value (not shown)"
		}
	}
	return short(v)
}

func short(v any) string {
	if v == nil {
		return "nothing"
	}
	raw, _ := json.Marshal(v)
	s := string(raw)
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return s
}
