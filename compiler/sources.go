package compiler

import (
	"fmt"
	"os"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/token"

	"envgen.dev/envgen/schema"
)

// Sources answers where a value of an environment came from. It keeps the
// CUE values of the compile, whose positions survive the merge of layers.
type Sources struct {
	filename string
	top      cue.Value
	resolved map[string]cue.Value   // by environment ("" is the base)
	layers   map[string][]cue.Value // top level, extended environments, the environment
}

// Origin is one place a value comes from.
type Origin struct {
	// Position is file:line:col, relative to the working directory.
	Position string
	// Layer is "schema default", "top level", "environment <name>" or
	// "release <name>".
	Layer string
}

// Origins returns where the value of field (a CUE path such as
// "resources.limits.memory") in env came from: the position of the value
// that won, and the layer it is in. ok is false when envgen.cue has no
// such field.
func (s *Sources) Origins(env, field string) (origins []Origin, ok bool) {
	if s == nil {
		return nil, false
	}
	resolved, found := s.resolved[env]
	if !found {
		return nil, false
	}
	path := cue.ParsePath(field)
	if path.Err() != nil {
		return nil, false
	}
	v := resolved.LookupPath(path)
	if !v.Exists() {
		return nil, false
	}
	cwd, _ := os.Getwd()
	for _, pos := range userPositions(v) {
		origins = append(origins, Origin{Position: relativePos(cwd, pos), Layer: s.layerOf(pos)})
	}
	if len(origins) == 0 {
		origins = append(origins, Origin{Position: schemaPos(v, cwd), Layer: "schema default"})
	}
	return origins, true
}

// Where returns the user's position of field in env, or of the closest
// enclosing field the user wrote, or of the environment's block, or the
// file itself: where a finding about it should point.
func (s *Sources) Where(env, field string) string {
	cwd, _ := os.Getwd()
	if s == nil {
		return ""
	}
	if resolved, ok := s.resolved[env]; ok {
		for f := field; f != ""; f = parent(f) {
			if ps := userPositions(resolved.LookupPath(cue.ParsePath(f))); len(ps) > 0 {
				return relativePos(cwd, ps[0])
			}
		}
	}
	if _, release := splitScope(env); release != "" {
		// A field the release lacks: its block is where to add it.
		if ps := userPositions(s.top.LookupPath(cue.MakePath(cue.Str("releases"), cue.Str(release)))); len(ps) > 0 {
			return relativePos(cwd, ps[0])
		}
	} else if env != "" {
		// A field the environment lacks: its block is where to add it, or,
		// when it has none, the environments that would hold it.
		block := s.top.LookupPath(cue.MakePath(cue.Str("environments"), cue.Str(env)))
		if ps := userPositions(block); len(ps) > 0 {
			return relativePos(cwd, ps[0])
		}
		if ps := userPositions(s.top.LookupPath(cue.ParsePath("environments"))); len(ps) > 0 {
			return relativePos(cwd, ps[0])
		}
	}
	// A field nobody wrote belongs to the service as a whole: point at its
	// name.
	if ps := userPositions(s.top.LookupPath(cue.ParsePath("name"))); len(ps) > 0 {
		return relativePos(cwd, ps[0])
	}
	return s.filename
}

// TopLevel returns the position of a field as envgen.cue writes it, outside
// any environment (releases.canary), or "" if it does not.
func (s *Sources) TopLevel(field string) string {
	if s == nil {
		return ""
	}
	path := cue.ParsePath(field)
	if path.Err() != nil {
		return ""
	}
	cwd, _ := os.Getwd()
	if ps := userPositions(s.top.LookupPath(path)); len(ps) > 0 {
		return relativePos(cwd, ps[0])
	}
	return ""
}

// IsDefault says whether field of env was left to the schema's default.
func (s *Sources) IsDefault(env, field string) bool {
	origins, ok := s.Origins(env, field)
	return ok && len(origins) == 1 && origins[0].Layer == "schema default"
}

func parent(field string) string {
	i := strings.LastIndexByte(field, '.')
	if i < 0 {
		return ""
	}
	return field[:i]
}

// isUserPos says whether p is in one of the user's files (not the
// schema's, not synthesized).
func isUserPos(p token.Pos) bool {
	return p.IsValid() && !schema.IsFile(p.Filename()) && p.Filename() != ""
}

func userPositions(v cue.Value) []token.Pos {
	if !v.Exists() {
		return nil
	}
	var out []token.Pos
	add := func(p token.Pos) {
		if isUserPos(p) {
			for _, q := range out {
				if q == p {
					return
				}
			}
			out = append(out, p)
		}
	}
	add(v.Pos())
	_, args := v.Expr()
	for _, a := range args {
		add(a.Pos())
	}
	// A struct the merge assembled has no position of its own; its first
	// field written by the user stands for it.
	if len(out) == 0 && v.IncompleteKind() == cue.StructKind {
		if iter, err := v.Fields(); err == nil {
			for iter.Next() {
				if ps := userPositions(iter.Value()); len(ps) > 0 {
					return ps[:1]
				}
			}
		}
	}
	return out
}

func schemaPos(v cue.Value, cwd string) string {
	_, args := v.Expr()
	for _, a := range append([]cue.Value{v}, args...) {
		if p := a.Pos(); p.IsValid() && schema.IsFile(p.Filename()) {
			return relativePos(cwd, p)
		}
	}
	return "the schema"
}

// layerOf names the layer a position is in: inside environments.<env> or
// at the top level.
func (s *Sources) layerOf(pos token.Pos) string {
	for _, blocks := range []struct{ field, layer string }{{"environments", "environment "}, {"releases", "release "}, {"pins", "pinned for "}} {
		iter, err := s.top.LookupPath(cue.ParsePath(blocks.field)).Fields()
		for err == nil && iter.Next() {
			block := iter.Value()
			start, end := block.Pos(), endPos(block)
			if start.IsValid() && start.Filename() == pos.Filename() && pos.Offset() >= start.Offset() && pos.Offset() <= end {
				if in := releaseInOf(block, pos); blocks.field == "releases" && in != "" {
					return blocks.layer + iter.Selector().Unquoted() + " in " + in
				}
				return blocks.layer + iter.Selector().Unquoted()
			}
		}
	}
	if pos.Filename() == "--tag" {
		return "--tag"
	}
	return "top level"
}

// endPos is the offset where v's source ends.
func endPos(v cue.Value) int {
	if n := v.Source(); n != nil {
		return n.End().Offset()
	}
	return -1
}

// Contribution is one layer's value of a field.
type Contribution struct {
	Layer    string `json:"layer"`
	Position string `json:"position"`
	Value    string `json:"value"`
}

// Contributions lists, from the most general layer to the most specific,
// every value envgen.cue gives field in env, where it is, and in which
// layer; when no layer sets it, the schema's default. The last one is the
// value that counts (for tag and digest, the layer that set either).
func (s *Sources) Contributions(env, field string) []Contribution {
	if s == nil {
		return nil
	}
	path := cue.ParsePath(field)
	if path.Err() != nil {
		return nil
	}
	cwd, _ := os.Getwd()
	var out []Contribution
	for _, layer := range s.layers[env] {
		v := layer.LookupPath(path)
		if !v.Exists() {
			continue
		}
		name := layerName(layer)
		position := schemaPos(v, cwd)
		if ps := userPositions(v); len(ps) > 0 {
			position = relativePos(cwd, ps[0])
		} else {
			name = "schema default (" + name + ")"
		}
		if d, ok := v.Default(); ok {
			v = d
		}
		out = append(out, Contribution{Layer: name, Position: position, Value: valueString(v)})
	}
	if len(out) == 0 {
		if v := s.resolved[env].LookupPath(path); v.Exists() {
			if d, ok := v.Default(); ok {
				v = d
			}
			out = append(out, Contribution{Layer: "schema default", Position: schemaPos(v, cwd), Value: valueString(v)})
		}
	}
	return out
}

func layerName(layer cue.Value) string {
	var sels []cue.Selector
	for _, sel := range layer.Path().Selectors() {
		if !sel.IsDefinition() { // the schema's #Service
			sels = append(sels, sel)
		}
	}
	if len(sels) == 2 && sels[0].Unquoted() == "environments" {
		return "environment " + sels[1].Unquoted()
	}
	if len(sels) == 2 && sels[0].Unquoted() == "releases" {
		return "release " + sels[1].Unquoted()
	}
	if len(sels) == 4 && sels[0].Unquoted() == "releases" && sels[2].Unquoted() == "in" {
		return "release " + sels[1].Unquoted() + " in " + sels[3].Unquoted()
	}
	if len(sels) == 2 && sels[0].Unquoted() == "pins" {
		return "pinned for " + sels[1].Unquoted()
	}
	if layer.Pos().Filename() == "--tag" {
		return "--tag"
	}
	return "top level"
}

func valueString(v cue.Value) string {
	data, err := v.MarshalJSON()
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// releaseInOf names the environment of a release's in block that holds
// pos, or "".
func releaseInOf(release cue.Value, pos token.Pos) string {
	iter, err := release.LookupPath(cue.ParsePath("in")).Fields()
	for err == nil && iter.Next() {
		block := iter.Value()
		if start := block.Pos(); start.IsValid() && start.Filename() == pos.Filename() && pos.Offset() >= start.Offset() && pos.Offset() <= endPos(block) {
			return iter.Selector().Unquoted()
		}
	}
	return ""
}
