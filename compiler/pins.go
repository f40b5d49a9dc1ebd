package compiler

import (
	"fmt"
	"slices"

	"cuelang.org/go/cue"
)

// PinSource is where a pin came from: the image its digest was read
// from, and for a promotion the commit and the run that tested it, and
// the builder the provenance names.
type PinSource struct {
	From    string `json:"from"`
	Commit  string `json:"commit,omitempty"`
	Build   string `json:"build,omitempty"`
	Builder string `json:"builder,omitempty"`
}

// String says where a pin came from, for people: the image, and for a
// promotion the commit, builder and run.
func (s PinSource) String() string {
	out := "pinned from " + s.From
	if s.Commit != "" {
		out += ", built from commit " + s.Commit
	}
	if s.Builder != "" {
		out += " by " + s.Builder
	}
	if s.Build != "" {
		out += ", tested by run " + s.Build
	}
	if s.Commit != "" {
		return out + " (envgen promote)"
	}
	return out + " (envgen lock)"
}

// checkPins checks that pins and pinned name environments envgen.cue has,
// and returns pinned decoded.
func (c *compilation) checkPins(top cue.Value, names []string, skip bool) (map[string]map[string]PinSource, error) {
	if skip {
		// Without its pins (envgen lock, promote): a pin of an environment
		// envgen.cue no longer has must not stop the command that rewrites
		// the file.
		return nil, nil
	}
	for _, field := range []string{"pins", "pinned"} {
		iter, _ := top.LookupPath(cue.ParsePath(field)).Fields()
		for iter != nil && iter.Next() {
			env := iter.Selector().Unquoted()
			if !slices.Contains(names, env) {
				return nil, c.positionedError(iter.Value(), field+"."+Label(env),
					fmt.Sprintf("%s names environment %s, which envgen.cue does not have (envgen lock rewrites the file)", field, env))
			}
		}
	}
	pinned := map[string]map[string]PinSource{}
	if v := top.LookupPath(cue.ParsePath("pinned")); v.Exists() {
		if err := v.Decode(&pinned); err != nil {
			return nil, c.inputError("", err)
		}
	}
	return pinned, nil
}

// pinLayers are the pins of env and of the environments it extends, the
// most general first: they come after the environments' own layers, so a
// promotion of production covers production-eqiad, and before a
// release's, so a release that names its own version keeps it.
func pinLayers(top, environments cue.Value, env string) []cue.Value {
	return alongLineage(top.LookupPath(cue.ParsePath("pins")), environments, env)
}

// alongLineage are the entries of a struct keyed by environment (pins, a
// release's in) for env and the environments it extends, the most
// general first.
func alongLineage(byEnvironment, environments cue.Value, env string) []cue.Value {
	var chain []string
	for current := env; current != "" && !slices.Contains(chain, current); {
		chain = append(chain, current)
		current, _ = environments.LookupPath(cue.MakePath(cue.Str(current), cue.Str("extends"))).String()
	}
	var layers []cue.Value
	for i := len(chain) - 1; i >= 0; i-- {
		if v := byEnvironment.LookupPath(cue.MakePath(cue.Str(chain[i]))); v.Exists() {
			layers = append(layers, v)
		}
	}
	return layers
}
