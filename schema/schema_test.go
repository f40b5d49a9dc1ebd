package schema

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/format"
)

// Every embedded file is built: one left out of Files would be missing
// from the schema without an error until a definition in it is used.
func TestFilesListsEveryFile(t *testing.T) {
	names, err := filepath.Glob("*.cue")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(Files))) {
		t.Errorf("schema files on disk %v, listed in Files %v", names, Files)
	}
}

// What envgen schema prints is the schema envgen checks against: one
// valid CUE file with the same definitions, each the same.
func TestSourceIsTheSchema(t *testing.T) {
	ctx := cuecontext.New()
	built, err := Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	printed := ctx.CompileBytes(Source(), cue.Filename("envgen schema"))
	if err := printed.Err(); err != nil {
		t.Fatalf("envgen schema prints invalid CUE: %v", err)
	}
	iter, err := built.Fields(cue.Definitions(true))
	if err != nil {
		t.Fatal(err)
	}
	defs := 0
	for iter.Next() {
		defs++
		sel := iter.Selector()
		want, got := syntax(t, iter.Value()), syntax(t, printed.LookupPath(cue.MakePath(sel)))
		if got != want {
			t.Errorf("%s differs in the printed schema:\n%s\nwant:\n%s", sel, got, want)
		}
	}
	if defs < 30 {
		t.Errorf("only %d definitions in the schema", defs)
	}
	// And a real envgen.cue passes it.
	example, err := os.ReadFile("../examples/citoid/envgen.cue")
	if err != nil {
		t.Fatal(err)
	}
	v := printed.LookupPath(cue.ParsePath("#Service")).Unify(ctx.CompileBytes(example))
	if err := v.Validate(cue.Concrete(true)); err != nil {
		t.Errorf("examples/citoid against the printed schema: %v", err)
	}
}

func syntax(t *testing.T, v cue.Value) string {
	t.Helper()
	if !v.Exists() {
		return "(missing)"
	}
	out, err := format.Node(v.Syntax(cue.Raw()))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
