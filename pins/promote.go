package pins

import (
	"slices"
	"strings"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/sorted"
)

// Candidate is an image to promote and what is known of it.
type Candidate struct {
	Repository string
	Digest     string
	// Tag is the build tag it was pushed under ("" when it was given by
	// digest alone): pinned.from names it.
	Tag string
	// Commit is the commit it must have been built from.
	Commit string
	// Build is the run that tested it (a report's build id), if one did.
	Build string
}

// Ref is the candidate as pinned.from names it.
func (c Candidate) Ref() string {
	if c.Tag != "" {
		return c.Repository + ":" + c.Tag
	}
	return c.Repository + "@" + c.Digest
}

// PromoteError is a candidate that may not be promoted: the command's
// input is wrong (exit 1), the registry and provenance said why.
type PromoteError struct{ Reason string }

func (e *PromoteError) Error() string { return e.Reason }

// Promote pins the candidate as the service's image in each environment
// of p named, and in the containers there that run the service's image
// (as --tag retags them). envgen lock's pins of those fields in the
// environments that extend one go: the promotion covers them.
func (l *Lock) Promote(p *compiler.Project, envs []string, c Candidate, prov *Provenance) error {
	source := compiler.PinSource{From: c.Ref(), Commit: c.Commit, Build: c.Build, Builder: prov.BuilderID}
	if err := CheckSource(source); err != nil {
		return &PromoteError{Reason: "not promoted: " + err.Error()}
	}
	for _, env := range envs {
		s, err := p.Environment(env)
		if err != nil {
			return err
		}
		fields := []string{"digest"}
		for _, name := range sorted.Keys(s.Containers) {
			if s.Containers[name].Image == s.Image {
				fields = append(fields, "containers."+compiler.Label(name)+".digest")
			}
		}
		for _, field := range fields {
			l.Set(env, field, c.Digest, source)
			for _, other := range p.EnvironmentNames() {
				if other == env || !slices.Contains(Chain(p, other), env) {
					continue
				}
				if src, ok := l.Pinned[other][field]; ok && !Promoted(src) {
					delete(l.Pins[other], field)
					delete(l.Pinned[other], field)
				}
			}
		}
	}
	return nil
}

// Promoted says whether a pin is a promotion (made by envgen promote,
// which envgen lock leaves alone) rather than a tag resolved by envgen
// lock.
func Promoted(s compiler.PinSource) bool { return s.Commit != "" }

// KeepTag is the tag envgen promote gives the image it pins in env: a tag
// that is not a build's, so that the image is never deleted as an old
// build's.
func KeepTag(env, digest string) string {
	hex := strings.TrimPrefix(digest, "sha256:")
	if len(hex) > 12 {
		hex = hex[:12]
	}
	return "pinned-" + env + "-" + hex
}
