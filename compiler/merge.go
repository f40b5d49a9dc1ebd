package compiler

import (
	"slices"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
)

// The merge rules, documented for users at the top of schema/service.cue.
var (
	// notMerged are top-level fields that describe layers rather than the
	// service; they never reach an environment's model.
	notMerged = []string{"environments", "extends", "vet", "releases", "traffic", "pins", "pinned", "customKinds", "in"}

	// atomicPaths are replaced whole by a later layer instead of merged field
	// by field: an environment that switches a probe from http to tcp must
	// not end up with both. "*" matches any one field name.
	atomicPaths = [][]string{
		{"probes", "*"},
		{"env", "*"},
		{"ci", "env", "*"},
		{"ci", "services", "*", "env", "*"},
		{"ci", "services", "*", "readiness"},
		{"preStop"},
		{"fileSecrets", "*", "*"},
		{"fileRenderer"},
		{"scheduling", "affinity"},
		{"containers", "*", "env", "*"},
		{"containers", "*", "probes", "*"},
		{"containers", "*", "preStop"},
	}

	// droppedByNull are the fields a later layer removes by setting them to
	// null: environment variables, containers. ci.env is not among them: its null
	// reaches the model, where it removes a variable the build would
	// inherit from the service's env.
	droppedByNull = [][]string{
		{"env", "*"},
		{"ci", "services", "*", "env", "*"},
		{"containers", "*"},
		{"containers", "*", "env", "*"},
		{"service", "ports", "*"},
		{"objects", "*"},
		{"autoscale"},
		{"disruptionBudget"},
		{"ingress", "*"},
		{"ingress", "*", "undeclaredPorts", "*"},
		{"egress", "*"},
		{"probes", "*"},
		{"containers", "*", "probes", "*"},
		{"service", "ports", "*", "nodePort"},
		{"jobs", "*"},
		{"fileSecrets", "*", "*"},
		{"fileSecrets", "*"},
		{"scheduling", "affinity"},
		{"labels", "*"},
		{"writableRoot"},
		{"containers", "*", "writableRoot"},
		{"ci", "services", "*", "writableRoot"},
		{"ports", "*"},
		{"containers", "*", "ports", "*"},
		{"ci", "services", "*", "ports", "*"},
		{"annotations", "*"},
		{"resources"},
		{"containers", "*", "resources"},
		{"ci", "services", "*", "resources"},
		{"egress"},
		{"ingress"},
		{"files", "*"},
		{"mounts", "*"},
		{"writable", "*"},
		{"containers", "*", "mounts", "*"},
		{"containers", "*", "writable", "*"},
		{"ci", "services", "*", "writable", "*"},
	}

	// exclusiveGroups are fields of one struct that are replaced together:
	// the layer that sets any of them decides all of them.
	exclusiveGroups = [][]string{{"tag", "digest"}}
)

// mergeLayers merges concrete layers, the later overriding the earlier, into
// a new value. The merged value is assembled as one CUE syntax tree and
// evaluated once, so the cost grows with the size of the input, not with
// its square; every node of the tree carries the position of the layer
// value it came from, so errors and `envgen explain` still point into
// envgen.cue.
func mergeLayers(ctx *cue.Context, layers []cue.Value) cue.Value {
	return ctx.BuildExpr(mergeStructs(nil, layers))
}

// mergeStructs merges the struct values in layers found at the field path
// names (unquoted, for rule matching).
func mergeStructs(names []string, layers []cue.Value) *ast.StructLit {
	out := &ast.StructLit{}
	fields, order := collectFields(layers, len(names) == 0)
	groupWinner := exclusiveGroupWinners(fields, order)
	for _, name := range order {
		values := fields[name].values
		if winner, grouped := groupWinner[name]; grouped {
			values = filterLayer(fields[name], winner)
			if len(values) == 0 {
				continue
			}
		}
		childNames := append(slices.Clone(names), name)
		last := values[len(values)-1]
		if last.IsNull() && matchesAny(childNames, droppedByNull) {
			continue
		}
		var value ast.Expr
		if isStruct(last) && !matchesAny(childNames, atomicPaths) {
			value = mergeStructs(childNames, trailingStructs(values))
		} else {
			leaf := last
			if d, ok := last.Default(); ok {
				leaf = d
			}
			value = syntaxAt(leaf)
		}
		out.Elts = append(out.Elts, field(name, value))
	}
	return out
}

// field is a field whose label has its value's position: CUE reports some
// errors at the field's label.
func field(name string, value ast.Expr) *ast.Field {
	label := ast.NewString(name)
	ast.SetPos(label, value.Pos())
	return &ast.Field{Label: label, Value: value}
}

// syntaxAt is v as syntax whose every node has the position of the value
// it stands for.
func syntaxAt(v cue.Value) ast.Expr {
	var e ast.Expr
	switch v.IncompleteKind() {
	case cue.StructKind:
		lit := &ast.StructLit{}
		iter, _ := v.Fields()
		for iter != nil && iter.Next() {
			lit.Elts = append(lit.Elts, field(iter.Selector().Unquoted(), syntaxAt(iter.Value())))
		}
		e = lit
	case cue.ListKind:
		lit := &ast.ListLit{}
		iter, _ := v.List()
		for iter.Next() {
			lit.Elts = append(lit.Elts, syntaxAt(iter.Value()))
		}
		e = lit
	default:
		e = scalarSyntax(v)
	}
	// The user's position: a value unified with the schema may start at
	// the schema's.
	pos := v.Pos()
	if !isUserPos(pos) { // else it is userPositions' first, without its cost
		if ps := userPositions(v); len(ps) > 0 {
			pos = ps[0]
		}
	}
	if lit, ok := e.(*ast.StructLit); ok && !pos.IsValid() && len(lit.Elts) > 0 {
		// `liveness: http: …` writes no brace: the struct is where its first
		// field is.
		pos = lit.Elts[0].(*ast.Field).Value.Pos()
	}
	ast.SetPos(e, pos)
	return e
}

// scalarSyntax is a leaf value as syntax. Strings, integers, booleans and
// null, nearly every leaf, are written directly: cue.Value.Syntax sets up
// an export per call, a tenth of a build's compile.
func scalarSyntax(v cue.Value) ast.Expr {
	switch v.Kind() {
	case cue.StringKind:
		if s, err := v.String(); err == nil {
			return ast.NewString(s)
		}
	case cue.IntKind:
		if i, err := v.Int(nil); err == nil {
			return ast.NewLit(token.INT, i.String())
		}
	case cue.BoolKind:
		if b, err := v.Bool(); err == nil {
			return ast.NewBool(b)
		}
	case cue.NullKind:
		return ast.NewNull()
	}
	if expr, ok := v.Syntax(cue.Final()).(ast.Expr); ok {
		return expr
	}
	return &ast.BottomLit{}
}

type layerField struct {
	selector cue.Selector
	values   []cue.Value // one per layer that sets the field, in layer order
	layers   []int       // the index of the layer of each value
}

func collectFields(layers []cue.Value, topLevel bool) (map[string]*layerField, []string) {
	fields := map[string]*layerField{}
	var order []string
	for i, layer := range layers {
		iter, err := layer.Fields()
		if err != nil {
			continue
		}
		for iter.Next() {
			name := iter.Selector().Unquoted()
			if topLevel && slices.Contains(notMerged, name) {
				continue
			}
			f, ok := fields[name]
			if !ok {
				f = &layerField{selector: iter.Selector()}
				fields[name] = f
				order = append(order, name)
			}
			f.values = append(f.values, iter.Value())
			f.layers = append(f.layers, i)
		}
	}
	return fields, order
}

// exclusiveGroupWinners maps each field of an exclusive group present here
// to the last layer that set any field of its group.
func exclusiveGroupWinners(fields map[string]*layerField, order []string) map[string]int {
	winners := map[string]int{}
	for _, group := range exclusiveGroups {
		winner := -1
		for _, name := range group {
			if f, ok := fields[name]; ok {
				winner = max(winner, f.layers[len(f.layers)-1])
			}
		}
		if winner < 0 {
			continue
		}
		for _, name := range group {
			winners[name] = winner
		}
	}
	return winners
}

func filterLayer(f *layerField, layer int) []cue.Value {
	if f == nil {
		return nil
	}
	for i, l := range f.layers {
		if l == layer {
			return []cue.Value{f.values[i]}
		}
	}
	return nil
}

// trailingStructs returns the values after the last non-struct one: a
// scalar in a lower layer is replaced, not merged into.
func trailingStructs(values []cue.Value) []cue.Value {
	start := len(values) - 1
	for start > 0 && isStruct(values[start-1]) {
		start--
	}
	return values[start:]
}

func isStruct(v cue.Value) bool { return v.IncompleteKind() == cue.StructKind }

// MergesFieldByField says whether a struct field of envgen.cue (a CUE
// path: "files", "resources.limits") is merged field by field across
// layers rather than replaced whole by the last layer that sets it.
func MergesFieldByField(field string) bool {
	var names []string
	for _, sel := range cue.ParsePath(field).Selectors() {
		names = append(names, sel.Unquoted())
	}
	for i := range names {
		if matchesAny(names[:i+1], atomicPaths) {
			return false
		}
	}
	return true
}

func matchesAny(names []string, patterns [][]string) bool {
	for _, pattern := range patterns {
		if len(pattern) != len(names) {
			continue
		}
		match := true
		for i, p := range pattern {
			if p != "*" && p != names[i] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}
