package pins

import (
	"context"
	"fmt"
	"slices"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

// Tagged is one image an environment names by tag, at its pin field.
type Tagged struct {
	Env   string
	Field string // "digest", "containers.envoy.digest", …
	Image string // repository:tag
}

// LockEnvironments are the environments envgen lock pins by default:
// staging, production and every environment that extends either.
func LockEnvironments(p *compiler.Project) []string {
	var out []string
	for _, e := range p.Environments {
		for current := e.Name; current != ""; current = extendsOf(p, current) {
			if current == "staging" || current == "production" {
				out = append(out, e.Name)
				break
			}
		}
	}
	return out
}

func extendsOf(p *compiler.Project, env string) string {
	for _, e := range p.Environments {
		if e.Name == env {
			return e.Extends
		}
	}
	return ""
}

// Chain is env and the environments it extends, env first: where a pin
// that covers env may be.
func Chain(p *compiler.Project, env string) []string {
	var out []string
	for current := env; current != "" && !slices.Contains(out, current); current = extendsOf(p, current) {
		out = append(out, current)
	}
	return out
}

// TaggedImages lists what each environment names by tag, as envgen.cue
// alone says it (p compiled with Options.NoPins): the service's image,
// the containers' of an image of their own, and in ci the build's and
// the test services'.
func TaggedImages(p *compiler.Project, envs []string) ([]Tagged, error) {
	var out []Tagged
	for _, env := range envs {
		s, err := p.Environment(env)
		if err != nil {
			return nil, err
		}
		add := func(field, image, tag, digest string) {
			if tag != "" && digest == "" {
				out = append(out, Tagged{Env: env, Field: field, Image: model.ImageRef(image, tag, "")})
			}
		}
		add("digest", s.Image, s.Tag, s.Digest)
		for _, name := range sorted.Keys(s.Containers) {
			if c := s.Containers[name]; c.Image != "" {
				add("containers."+compiler.Label(name)+".digest", c.Image, c.Tag, c.Digest)
			}
		}
		if env == "ci" && s.CI != nil {
			if s.CI.Image != "" {
				add("ci.digest", s.CI.Image, s.CI.Tag, s.CI.Digest)
			}
			for _, name := range sorted.Keys(s.CI.Services) {
				svc := s.CI.Services[name]
				add("ci.services."+compiler.Label(name)+".digest", svc.Image, svc.Tag, svc.Digest)
			}
		}
	}
	return out, nil
}

// Drift is one difference between the lock and what the tags name now.
type Drift struct {
	Env, Field string
	Reason     string
}

func (d Drift) String() string { return fmt.Sprintf("%s: %s: %s", d.Env, d.Field, d.Reason) }

// Relock resolves every tag of envs (from TaggedImages) that no promotion
// covers — a promotion of an environment covers the environments that
// extend it — and returns the lock as envgen lock writes it: promotions
// kept, the tags' pins from the registry now, no pin for a tag envgen.cue
// no longer names. It also says how that differs from l (for --check):
// a moved tag, a new one, one gone. resolve names a tag's digest now
// (registry.Resolve: package pins itself never reaches a registry).
func (l *Lock) Relock(ctx context.Context, p *compiler.Project, envs []string, tagged []Tagged, resolve func(ctx context.Context, image string) (string, error)) (*Lock, []Drift, error) {
	next := &Lock{}
	var drift []Drift
	for _, env := range sorted.Keys(l.Pins) {
		if !slices.Contains(p.EnvironmentNames(), env) {
			drift = append(drift, Drift{env, "*", "envgen.cue has no environment " + env + " any more: its pins go"})
			continue
		}
		for field, src := range l.Pinned[env] {
			if Promoted(src) {
				next.Set(env, field, l.Pins[env][field], src)
			}
		}
	}
	wanted := map[[2]string]bool{}
	for _, t := range tagged {
		if covered(next, Chain(p, t.Env), t.Field) {
			continue
		}
		wanted[[2]string{t.Env, t.Field}] = true
		digest, err := resolve(ctx, t.Image)
		if err != nil {
			return nil, nil, err
		}
		next.Set(t.Env, t.Field, digest, compiler.PinSource{From: t.Image})
		old, had := l.Pins[t.Env][t.Field]
		oldFrom := l.Pinned[t.Env][t.Field].From
		switch {
		case !had:
			drift = append(drift, Drift{t.Env, t.Field, fmt.Sprintf("%s is not pinned (it names %s)", t.Image, digest)})
		case oldFrom != t.Image:
			drift = append(drift, Drift{t.Env, t.Field, fmt.Sprintf("envgen.cue names %s now; the lock pins %s from %s", t.Image, old, oldFrom)})
		case old != digest:
			drift = append(drift, Drift{t.Env, t.Field, fmt.Sprintf("%s moved: it names %s now, the lock pins %s", t.Image, digest, old)})
		}
	}
	for _, env := range sorted.Keys(l.Pins) {
		for _, field := range sorted.Keys(l.Pins[env]) {
			if !Promoted(l.Pinned[env][field]) && !wanted[[2]string{env, field}] && slices.Contains(envs, env) {
				drift = append(drift, Drift{env, field, fmt.Sprintf("pinned from %s, which envgen.cue no longer names", l.Pinned[env][field].From)})
			}
		}
	}
	// Pins of environments not relocked stay as they were.
	for env, fields := range l.Pins {
		if slices.Contains(envs, env) || !slices.Contains(p.EnvironmentNames(), env) {
			continue
		}
		for field, digest := range fields {
			if _, kept := next.Pins[env][field]; !kept {
				next.Set(env, field, digest, l.Pinned[env][field])
			}
		}
	}
	return next, drift, nil
}

// covered says whether a promotion of field pins it in one of the
// environments of chain.
func covered(l *Lock, chain []string, field string) bool {
	for _, env := range chain {
		if src, ok := l.Pinned[env][field]; ok && Promoted(src) {
			return true
		}
	}
	return false
}
