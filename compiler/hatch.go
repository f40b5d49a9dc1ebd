package compiler

import (
	"errors"
	"fmt"
	"strings"

	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/model"
)

// checkEscapeHatch builds the environment's objects as manifests does and
// reports a wrong patch or object at its field in envgen.cue. It runs after
// the environment's releases are resolved: a patch may name their objects.
func (c *compilation) checkEscapeHatch(env string, s *model.Service) error {
	if len(s.Patches) == 0 && len(s.Objects) == 0 {
		return nil
	}
	at, fail := c.reporter(env, c.sources.resolved[env])
	_, err := manifests.Build(env, s)
	var hatch *manifests.HatchError
	if !errors.As(err, &hatch) {
		return err
	}
	// The closest field envgen.cue writes: a decoding error's path has no
	// list indexes.
	for len(hatch.Field) > 0 && !at(hatchField(hatch)).Exists() {
		hatch.Field = hatch.Field[:len(hatch.Field)-1]
	}
	return fail(hatchField(hatch), hatch.Msg)
}

// hatchField is the CUE path of the entry and field a HatchError names.
func hatchField(e *manifests.HatchError) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s.%q", e.Section, e.Key)
	for _, f := range e.Field {
		if strings.HasPrefix(f, "[") {
			b.WriteString(f)
		} else {
			b.WriteString("." + Label(f))
		}
	}
	return b.String()
}
