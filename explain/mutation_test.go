package explain_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/explain"
	"envgen.dev/envgen/pipeline"
)

// TestSetByEnvgenDoesNotDependOnEnvgenCUE holds explain's "set by envgen"
// answers to what they claim, by mutation: every literal of every example
// is changed in turn (a number plus one, a string with a letter more, a
// boolean flipped), and a field explain calls envgen's that then changes
// value must name, in its answer, the field that was changed ("set by
// envgen from name", "a hash of files"). A wrong "set by envgen" for a
// value envgen.cue decides (the Pod labels, the affinity, a writable root
// filesystem were all once explained so) fails here; a mutation envgen
// refuses proves nothing and is skipped.
func TestSetByEnvgenDoesNotDependOnEnvgenCUE(t *testing.T) {
	examples, _ := filepath.Glob(filepath.Join("..", "examples", "*", "envgen.cue"))
	if len(examples) == 0 {
		t.Fatal("no examples")
	}
	every := 1
	if testing.Short() {
		every = 7
	}
	var mutations, checked, compared int
	for _, input := range examples {
		src, err := os.ReadFile(input)
		if err != nil {
			t.Fatal(err)
		}
		original, err := pipeline.LoadSource("envgen.cue", src, compiler.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defaults := setByEnvgen(t, original)
		for i, m := range literalMutations(t, src) {
			if i%every != 0 {
				continue
			}
			mutations++
			mutated, err := pipeline.LoadSource("envgen.cue", m.source, compiler.Options{})
			if err != nil {
				continue // refused: proves nothing
			}
			checked++
			for _, env := range mutated.Project.EnvironmentNames() {
				built, err := mutated.Render(env)
				if err != nil {
					continue
				}
				for _, obj := range built.Objects {
					ref := objectRef(obj)
					for _, path := range namedLeaves("", obj) {
						why, ok := defaults[env+" "+ref+" "+path]
						if !ok {
							continue
						}
						compared++
						if fmt.Sprint(valueAt(obj, path)) == why.value || justified(why, m.field) {
							continue
						}
						t.Errorf("%s: changing %s (%s) changes %s %s %s from %s to %v, which explain says is %q",
							input, m.field, m.change, env, ref, path, why.value, valueAt(obj, path), why.text)
					}
				}
			}
		}
	}
	t.Logf("%d mutations of the examples' literals, %d compiled; %d fields explain calls envgen's compared", mutations, checked, compared)
	if checked == 0 || compared == 0 {
		t.Error("the mutations compared nothing")
	}
}

// defaultAnswer is explain's "set by envgen" answer for a field, and the
// field's value.
type defaultAnswer struct {
	text, value string
	unset       []string
}

// setByEnvgen explains every leaf of every object of every environment,
// keeping those explain calls envgen's, by "env ref path".
func setByEnvgen(t *testing.T, r *pipeline.Result) map[string]defaultAnswer {
	t.Helper()
	out := map[string]defaultAnswer{}
	for _, env := range r.Project.EnvironmentNames() {
		objs := rendered(t, r, env)
		for _, obj := range objs {
			ref := objectRef(obj)
			for _, path := range namedLeaves("", obj) {
				e, err := explain.Explain(r.Project, env, objs, ref, path)
				if err != nil || len(e.Sources) > 0 || e.Default == "" {
					continue
				}
				out[env+" "+ref+" "+path] = defaultAnswer{text: e.Default, value: fmt.Sprint(valueAt(obj, path)), unset: e.Unset}
			}
		}
	}
	return out
}

func objectRef(obj map[string]any) string {
	return strings.ToLower(obj["kind"].(string)) + "/" + obj["metadata"].(map[string]any)["name"].(string)
}

// fromFields are the fields a "set by envgen from X: …" answer names.
var fromFields = regexp.MustCompile(`^set by envgen from ([A-Za-z.]+):`)

// justified says whether an answer says that the field changed decides
// the value: among the fields explain found unset (the value is envgen's
// choice unless they say otherwise), or named by "from X". A field of an
// environment, a release or a release's in layer is the field itself.
func justified(why defaultAnswer, changed string) bool {
	field := layerless(changed)
	named := slices.Clone(why.unset)
	if m := fromFields.FindStringSubmatch(why.text); m != nil {
		named = append(named, m[1])
	}
	for _, n := range named {
		n = strings.ReplaceAll(n, `"`, "")
		if field == n || strings.HasPrefix(field, n+".") || strings.HasPrefix(field, n+"[") {
			return true
		}
	}
	return false
}

// layerless is a field of envgen.cue without the layer it is written in:
// environments.production.replicas is replicas.
func layerless(field string) string {
	for {
		parts := strings.SplitN(field, ".", 3)
		if len(parts) == 3 && (parts[0] == "environments" || parts[0] == "releases" || parts[0] == "in") {
			field = parts[2]
			continue
		}
		return field
	}
}

// mutation is envgen.cue with one literal changed.
type mutation struct {
	field, change string
	source        []byte
}

// literalMutations changes each literal value of src in turn (an integer
// plus one, a string with an "x" more, a boolean flipped) and drops each
// field whose value is a literal.
func literalMutations(t *testing.T, src []byte) []mutation {
	t.Helper()
	var lits []struct {
		lit   *ast.BasicLit
		field string
	}
	// drops are the fields with a literal value, by the list they are in.
	var drops []struct {
		list  *[]ast.Decl
		i     int
		field string
	}
	var walk func(n ast.Node, field string)
	walkDecls := func(list *[]ast.Decl, field string) {
		for i, d := range *list {
			if f, ok := d.(*ast.Field); ok {
				if _, lit := f.Value.(*ast.BasicLit); lit {
					name, _, _ := ast.LabelName(f.Label)
					drops = append(drops, struct {
						list  *[]ast.Decl
						i     int
						field string
					}{list, i, strings.TrimPrefix(field+"."+name, ".")})
				}
			}
			walk(d, field)
		}
	}
	walk = func(n ast.Node, field string) {
		switch n := n.(type) {
		case *ast.File:
			walkDecls(&n.Decls, field)
		case *ast.StructLit:
			walkDecls(&n.Elts, field)
		case *ast.Field:
			name, _, _ := ast.LabelName(n.Label)
			if name == "" {
				if l, ok := n.Label.(*ast.BasicLit); ok {
					name = l.Value
				}
			}
			if field != "" {
				name = field + "." + name
			}
			walk(n.Value, name)
		case *ast.ListLit:
			for i, e := range n.Elts {
				walk(e, fmt.Sprintf("%s[%d]", field, i))
			}
		case *ast.BasicLit:
			lits = append(lits, struct {
				lit   *ast.BasicLit
				field string
			}{n, field})
		}
	}
	var out []mutation
	f, err := parser.ParseFile("envgen.cue", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	lits = lits[:0]
	walk(f, "")
	for _, l := range lits {
		old, oldKind := l.lit.Value, l.lit.Kind
		var change string
		switch l.lit.Kind {
		case token.INT:
			n, err := strconv.Atoi(old)
			if err != nil {
				continue
			}
			l.lit.Value = strconv.Itoa(n + 1)
		case token.STRING:
			s, err := strconv.Unquote(old)
			if err != nil || strings.HasPrefix(old, `"""`) {
				continue
			}
			l.lit.Value = strconv.Quote(s + "x")
		case token.TRUE:
			l.lit.Kind, l.lit.Value = token.FALSE, "false"
		case token.FALSE:
			l.lit.Kind, l.lit.Value = token.TRUE, "true"
		default:
			continue
		}
		change = old + " → " + l.lit.Value
		b, err := format.Node(f)
		l.lit.Value, l.lit.Kind = old, oldKind
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, mutation{field: l.field, change: change, source: b})
	}
	for _, d := range drops {
		kept := *d.list
		*d.list = append(append([]ast.Decl{}, kept[:d.i]...), kept[d.i+1:]...)
		b, err := format.Node(f)
		*d.list = kept
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, mutation{field: d.field, change: "dropped", source: b})
	}
	return out
}

// valueAt is the value at a leaf path of leaves' making.
func valueAt(obj map[string]any, path string) any {
	var cur any = obj
	for rest := path; rest != "" && cur != nil; {
		rest = strings.TrimPrefix(rest, ".")
		var key string
		switch {
		case strings.HasPrefix(rest, `["`):
			end := strings.Index(rest, `"]`)
			key, rest = rest[2:end], rest[end+2:]
			key, _ = strconv.Unquote(`"` + key + `"`)
		case strings.HasPrefix(rest, "[name="):
			end := strings.Index(rest, "]")
			name := rest[len("[name="):end]
			rest = rest[end+1:]
			list, _ := cur.([]any)
			cur = nil
			for _, item := range list {
				if m, ok := item.(map[string]any); ok && m["name"] == name {
					cur = m
				}
			}
			continue
		case strings.HasPrefix(rest, "["):
			end := strings.Index(rest, "]")
			i, _ := strconv.Atoi(rest[1:end])
			rest = rest[end+1:]
			list, _ := cur.([]any)
			if i >= len(list) {
				return nil
			}
			cur = list[i]
			continue
		default:
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			key, rest = rest[:end], rest[end:]
		}
		m, _ := cur.(map[string]any)
		cur = m[key]
	}
	return cur
}

// namedLeaves are leaves' paths with the items of a list of named things
// (containers, ports, volumes, variables) by name, not index: a mutation
// that adds or drops one must not compare one container with another.
func namedLeaves(prefix string, v any) []string {
	list, ok := v.([]any)
	if !ok {
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			return []string{prefix}
		}
		var out []string
		for k, child := range m {
			key := k
			switch {
			case strings.ContainsAny(k, ".[]/"):
				key = fmt.Sprintf("%s[%q]", prefix, k)
			case prefix == "":
			default:
				key = prefix + "." + k
			}
			out = append(out, namedLeaves(key, child)...)
		}
		return out
	}
	var out []string
	for i, item := range list {
		step := fmt.Sprintf("[%d]", i)
		if m, ok := item.(map[string]any); ok {
			if name, ok := m["name"].(string); ok && !strings.ContainsAny(name, "]") {
				step = "[name=" + name + "]"
			}
		}
		out = append(out, namedLeaves(prefix+step, item)...)
	}
	return out
}
