package compiler

import (
	"fmt"
	"slices"

	"cuelang.org/go/cue"

	"envgen.dev/envgen/internal/sorted"
)

// Every environment, and every release in each environment it runs in, is
// one instance of the service: its layers merged and evaluated against the
// whole schema on its own. The file's size bounds each layer, not how
// often a layer is evaluated: the top level is evaluated once per
// instance, an environment once per release too. These bounds count that
// product before anything is evaluated.

// MaxInstances bounds the instances envgen.cue asks for. Each costs about
// 4 ms and 1 MiB here however small it is: 50 environments that extend
// one with 10 releases made 520 of them from a 4 KB file, 5 s and 630 MiB
// to generate before this bound.
const MaxInstances = 100

// MaxExpandedFields bounds the fields evaluated over all instances: the
// fields of each instance's layers, added up. 480 variables overridden in
// 20 environments (the limits benchmark's largest shape) count 20,852; at
// this bound the worst shape (ten containers of 230 variables in ten
// instances, make bench) generates in about 6 s and 510 MiB, 1.5× what
// stock kustomize takes to build its overlays (a keyed-list merge
// quadratic in a list's length).
const MaxExpandedFields = 25000

// checkExpansion counts the instances and the fields they evaluate, and
// refuses more than the bounds at the field that multiplies them.
func (c *compilation) checkExpansion(top cue.Value, names []string, environments cue.Value, layersOf map[string][]cue.Value) error {
	fieldsIn := map[string]int{} // by layer: "" is the top level, then the layers' paths (environments.production)
	count := func(key string, v cue.Value, topLevel bool) int {
		if n, ok := fieldsIn[key]; ok {
			return n
		}
		n := countFields(v, topLevel, MaxExpandedFields+1)
		fieldsIn[key] = n
		return n
	}
	instances, expanded := 1, count("", top, true) // the top level on its own: the base
	widest, widestIn := "", 0
	envFields := map[string]int{}
	for _, env := range names {
		layers, _ := c.environmentLayers(environments, env) // checked before
		n := count("", top, true)
		for _, layer := range layers { // the most general first
			n += count(layer.Path().String(), layer, false)
		}
		n += len(layersOf[env]) - len(layers) - 1 // pins: a field or two each
		envFields[env] = n
		instances++
		expanded += n
	}
	for _, release := range sorted.Keys(c.releases) {
		in := 0
		for _, env := range names {
			if runs, _ := c.releases.runsIn(release, env, environments); runs {
				in++
				instances++
				expanded += envFields[env] + count(c.releases[release].Path().String(), c.releases[release], false)
			}
		}
		if in > widestIn {
			widest, widestIn = release, in
		}
	}
	switch {
	case instances > MaxInstances && widest != "":
		return c.positionedError(top.LookupPath(cue.ParsePath("releases")), "releases", fmt.Sprintf(
			"%d environments and their releases make %d instances of the service, more than %d: each is evaluated on its own. A release runs in the environments it lists and in every environment that extends them (release %s runs in %d)",
			len(names), instances, MaxInstances, widest, widestIn))
	case expanded > MaxExpandedFields:
		return &InputError{Lines: []string{fmt.Sprintf(
			"%s: %d instances of the service (the top level, %d environments and their releases) evaluate %d fields in all, more than %d: every instance evaluates the top level's %d fields and its environments'. Move what only some environments need into them, or split the service",
			c.filename, instances, len(names), expanded, MaxExpandedFields, fieldsIn[""])}}
	}
	return nil
}

// countFields counts the fields and list elements under v, stopping past
// limit; at the top level, the fields that describe layers
// (environments, releases…) are not the service's and are not counted.
func countFields(v cue.Value, topLevel bool, limit int) int {
	n := 0
	var walk func(v cue.Value, top bool)
	walk = func(v cue.Value, top bool) {
		switch v.IncompleteKind() {
		case cue.StructKind:
			iter, err := v.Fields()
			if err != nil {
				return
			}
			for iter.Next() && n <= limit {
				if top && slices.Contains(notMerged, iter.Selector().Unquoted()) {
					continue
				}
				n++
				walk(iter.Value(), false)
			}
		case cue.ListKind:
			iter, err := v.List()
			if err != nil {
				return
			}
			for iter.Next() && n <= limit {
				n++
				walk(iter.Value(), false)
			}
		}
	}
	walk(v, topLevel)
	return n
}
