package compiler

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"cuelang.org/go/cue"

	"envgen.dev/envgen/internal/sorted"
)

// VetConfig is what envgen.cue says to `envgen vet`.
type VetConfig struct {
	// Off maps a rule ID to why, and where, it is switched off.
	Off map[string]Suppression `json:"off,omitempty"`
	// Invariants by name.
	Invariants map[string]Invariant `json:"invariants,omitempty"`
}

// Suppression switches a vet rule off, with the reason vet prints: in
// every environment, or only in Environments (staging runs one replica).
type Suppression struct {
	Reason       string   `json:"reason"`
	Environments []string `json:"environments,omitempty"`
	// Fields, if any, are the only findings it covers, by field as vet
	// prints them (and the fields below them).
	Fields []string `json:"fields,omitempty"`
}

// Covers says whether the suppression covers a finding on field.
func (s Suppression) Covers(field string) bool {
	if len(s.Fields) == 0 {
		return true
	}
	for _, f := range s.Fields {
		if field == f || strings.HasPrefix(field, f+".") {
			return true
		}
	}
	return false
}

// UnmarshalJSON accepts the reason alone (everywhere) or {reason,
// environments}.
func (s *Suppression) UnmarshalJSON(data []byte) error {
	var reason string
	if err := json.Unmarshal(data, &reason); err == nil {
		*s = Suppression{Reason: reason}
		return nil
	}
	type plain Suppression
	return json.Unmarshal(data, (*plain)(s))
}

// In says whether the rule is off in a scope of project p: an environment,
// or a release of one (production/canary). A suppression of an environment
// covers its releases and the environments that extend it (production
// covers production-eqiad and production-eqiad/canary), as they are
// written as its overrides.
func (s Suppression) In(p *Project, scope string) bool {
	if len(s.Environments) == 0 {
		return true
	}
	env, release := splitScope(scope)
	for _, covering := range p.Lineage(env) {
		if slices.Contains(s.Environments, covering) || (release != "" && slices.Contains(s.Environments, ReleaseScope(covering, release))) {
			return true
		}
	}
	return false
}

// Lineage is env and the environments it extends, nearest first.
func (p *Project) Lineage(env string) []string {
	var out []string
	for current := env; current != "" && !slices.Contains(out, current); {
		out = append(out, current)
		next := ""
		for _, e := range p.Environments {
			if e.Name == current {
				next = e.Extends
			}
		}
		current = next
	}
	return out
}

// Invariant says that two environments may differ only in some fields.
type Invariant struct {
	Environments []string `json:"environments"`
	MayDiffer    []string `json:"mayDiffer"`
}

// checkVetOff wants every environment a suppression names to exist, and
// every release (production/canary) to run there: a misspelt one would
// switch nothing off, silently.
func (c *compilation) checkVetOff(vet VetConfig, environments []string, environmentsValue cue.Value) error {
	for _, id := range sorted.Keys(vet.Off) {
		for i, scope := range vet.Off[id].Environments {
			field := fmt.Sprintf("vet.off.%s.environments[%d]", id, i)
			fail := func(msg string) error {
				return c.positionedError(c.sources.top.LookupPath(cue.ParsePath(field)), field, msg)
			}
			env, release := splitScope(scope)
			if !slices.Contains(environments, env) {
				return fail(fmt.Sprintf("no environment named %q (environments: %s)", env, strings.Join(environments, ", ")))
			}
			if release == "" {
				continue
			}
			if _, ok := c.releases[release]; !ok {
				return fail(fmt.Sprintf("no release named %q (releases: %s)", release, strings.Join(sorted.Keys(c.releases), ", ")))
			}
			if runs, _ := c.releases.runsIn(release, env, environmentsValue); !runs {
				return fail(fmt.Sprintf("release %s does not run in %s", release, env))
			}
		}
	}
	return nil
}
