// Package vet checks a compiled service against envgen's policies and
// reports findings that point at envgen.cue (file:line:col and field),
// never only at generated YAML. It sits beside the data flow: after package
// compiler, before anything is written or applied; generate and build
// refuse a production with error-level findings.
package vet

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

// Severity of a finding.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Finding is one policy violation.
type Finding struct {
	Rule        string   `json:"rule"`
	Severity    Severity `json:"severity"`
	Environment string   `json:"environment"`
	Field       string   `json:"field"`
	Position    string   `json:"position"`
	Message     string   `json:"message"`
	Fix         string   `json:"fix"`
}

// Rule is one built-in check.
type Rule struct {
	ID       string
	Severity Severity
	Summary  string
	Fix      string
	// Environments the rule applies to: "prod-like" (staging, production
	// and those that extend them), "all", or "ci".
	Scope string
	// SeverityIn, if set, is the severity in an environment instead.
	SeverityIn func(env string) Severity
	check      func(c *context, env string, s *model.Service)
}

// Suppressed is a rule switched off in envgen.cue, with its reason, in
// every environment or only in Environments.
type Suppressed struct {
	Rule         string   `json:"rule"`
	Reason       string   `json:"reason"`
	Environments []string `json:"environments,omitempty"`
	Fields       []string `json:"fields,omitempty"`
}

// Report is the outcome of vetting one envgen.cue.
type Report struct {
	Findings   []Finding    `json:"findings"`
	Suppressed []Suppressed `json:"suppressed"`
}

// Errors counts the error-level findings, in environments matching keep
// (all when keep is nil).
func (r *Report) Errors(keep func(env string) bool) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity != Error {
			continue
		}
		for _, env := range strings.Split(f.Environment, ", ") {
			if keep == nil || keep(env) {
				n++
				break
			}
		}
	}
	return n
}

type context struct {
	project  *compiler.Project
	rule     *Rule
	findings []Finding
}

func (c *context) report(env, field, format string, args ...any) {
	severity := c.rule.Severity
	if c.rule.SeverityIn != nil {
		severity = c.rule.SeverityIn(env)
	}
	c.findings = append(c.findings, Finding{
		Rule: c.rule.ID, Severity: severity, Environment: env, Field: field,
		Position: c.project.Sources().Where(env, field), Message: fmt.Sprintf(format, args...), Fix: c.rule.Fix,
	})
}

// Check runs every rule not switched off, and the invariants.
func Check(p *compiler.Project) *Report {
	r := &Report{}
	for _, id := range sorted.Keys(p.Vet.Off) {
		off := p.Vet.Off[id]
		r.Suppressed = append(r.Suppressed, Suppressed{Rule: id, Reason: off.Reason, Environments: off.Environments, Fields: off.Fields})
	}
	for i := range Rules {
		rule := &Rules[i]
		c := &context{project: p, rule: rule}
		for _, env := range p.Environments {
			if !applies(rule.Scope, env.Name) {
				continue
			}
			rule.check(c, env.Name, env.Service)
			// A release is vetted like its environment, as production/canary.
			for _, release := range env.Service.Releases {
				rule.check(c, compiler.ReleaseScope(env.Name, release.Release), release)
			}
		}
		r.Findings = append(r.Findings, c.findings...)
	}
	c := &context{project: p, rule: &invariantRule}
	checkInvariants(c)
	r.Findings = append(r.Findings, c.findings...)
	unmatched := unmatchedSuppressedFields(p, r.Findings)
	r.Findings = slices.DeleteFunc(r.Findings, func(f Finding) bool { return switchedOff(p, f) })
	r.Findings = append(r.Findings, unmatched...)
	r.Findings = mergeAcrossEnvironments(r.Findings)
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return envIndex(p, firstEnv(a.Environment)) < envIndex(p, firstEnv(b.Environment))
	})
	return r
}

// switchedOff says whether envgen.cue switched the finding's rule off in
// every environment the finding is about (an invariant's is about two).
func switchedOff(p *compiler.Project, f Finding) bool {
	off, ok := p.Vet.Off[f.Rule]
	if !ok {
		return false
	}
	if !off.Covers(f.Field) {
		return false
	}
	for _, env := range strings.Split(f.Environment, ", ") {
		if !off.In(p, env) {
			return false
		}
	}
	return true
}

// unmatchedSuppressedFields reports each field of vet.off that no finding
// of its rule has: a misspelt field would switch nothing off, silently.
func unmatchedSuppressedFields(p *compiler.Project, findings []Finding) []Finding {
	var out []Finding
	for _, id := range sorted.Keys(p.Vet.Off) {
		for i, field := range p.Vet.Off[id].Fields {
			matched := slices.ContainsFunc(findings, func(f Finding) bool {
				return f.Rule == id && compiler.Suppression{Fields: []string{field}}.Covers(f.Field)
			})
			if matched {
				continue
			}
			at := fmt.Sprintf("vet.off.%s.fields[%d]", id, i)
			out = append(out, Finding{
				Rule: id, Severity: Warning, Field: at, Position: p.Sources().TopLevel(at),
				Message: fmt.Sprintf("switches %s off for %s, where %s finds nothing: is the field misspelt?", id, field, id),
				Fix:     "name a field as vet prints it (env.OAUTH2_KEY), or drop it",
			})
		}
	}
	return out
}

// mergeAcrossEnvironments reports once what several environments inherit
// from one place: "(in environments staging, production)".
func mergeAcrossEnvironments(findings []Finding) []Finding {
	var out []Finding
	index := map[string]int{}
	for _, f := range findings {
		// Not across severities: a rule may be a warning in staging and
		// an error in production.
		key := f.Rule + "\x00" + string(f.Severity) + "\x00" + f.Field + "\x00" + f.Position + "\x00" + f.Message
		if i, ok := index[key]; ok {
			out[i].Environment += ", " + f.Environment
			continue
		}
		index[key] = len(out)
		out = append(out, f)
	}
	return out
}

func firstEnv(envs string) string {
	first, _, _ := strings.Cut(envs, ", ")
	return first
}

// ProdLike says whether env is held to production rules: staging,
// production, and environments whose name starts with them (and their
// releases: production/canary).
func ProdLike(env string) bool {
	env = compiler.EnvironmentOf(env)
	for _, prefix := range []string{"staging", "production"} {
		if env == prefix || strings.HasPrefix(env, prefix+"-") {
			return true
		}
	}
	return false
}

// Production says whether env is production or a variant of it: the
// environments generate and build refuse to emit with error findings.
func Production(env string) bool {
	env = compiler.EnvironmentOf(env)
	return env == "production" || strings.HasPrefix(env, "production-")
}

func applies(scope, env string) bool {
	switch scope {
	case "prod-like":
		return ProdLike(env)
	case "ci":
		return env == "ci"
	}
	return true
}

func envIndex(p *compiler.Project, env string) int {
	return slices.Index(p.EnvironmentNames(), compiler.EnvironmentOf(env))
}

// modelFields returns the model as a map of its top-level JSON fields, for
// invariants.
func modelFields(s *model.Service) map[string]any {
	data, _ := json.Marshal(s)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	// The environment's releases are part of what it runs: an invariant
	// compares them too, by name (mayDiffer: ["releases"] allows a
	// difference).
	if len(s.Releases) > 0 {
		releases := map[string]any{}
		for _, r := range s.Releases {
			fields := modelFields(r)
			fields["traffic"] = r.Traffic
			releases[r.Release] = fields
		}
		m["releases"] = releases
	}
	return m
}
