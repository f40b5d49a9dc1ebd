package compiler

import (
	"errors"
	"fmt"
	"strings"

	"cuelang.org/go/cue"

	"envgen.dev/envgen/internal/sorted"
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
	return fail(hatchField(hatch), hatch.Msg+c.releaseObjectHint(env, hatch))
}

// releaseObjectHint explains a patch of a release's object where the
// release does not run: the top level's patches apply to the base and
// every environment, a release runs only in some.
func (c *compilation) releaseObjectHint(env string, hatch *manifests.HatchError) string {
	_, name, _ := strings.Cut(hatch.Key, "/")
	service, _ := c.sources.top.LookupPath(cue.ParsePath("name")).String()
	for _, release := range sorted.Keys(c.releases) {
		instance := service + "-" + release
		if name != instance && name != manifests.FilesConfigMapName(instance) {
			continue
		}
		where := "the top level's patches apply to every environment"
		if env != "" {
			where = "not in " + env
		}
		envs := releaseEnvironments(c.releases[release])
		return fmt.Sprintf("; it is release %s's, which runs only in %s (%s): patch it in those environments (environments.%s.patches)",
			release, strings.Join(envs, ", "), where, Label(envs[0]))
	}
	return ""
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
