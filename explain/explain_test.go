package explain_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/explain"
	"envgen.dev/envgen/pipeline"
)

// TestEveryFieldOfEveryObjectIsExplained walks every leaf of every object
// of every environment of every example and wants an explanation: the
// envgen.cue values behind it, or the reason envgen sets it.
func TestEveryFieldOfEveryObjectIsExplained(t *testing.T) {
	examples, _ := filepath.Glob(filepath.Join("..", "examples", "*", "envgen.cue"))
	if len(examples) == 0 {
		t.Fatal("no examples")
	}
	fromCUE, fromEnvgen := 0, 0
	for _, input := range examples {
		result, err := pipeline.Load(input, compiler.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, env := range result.Project.EnvironmentNames() {
			objs := rendered(t, result, env)
			for _, obj := range objs {
				ref := strings.ToLower(obj["kind"].(string)) + "/" + obj["metadata"].(map[string]any)["name"].(string)
				for _, path := range leaves("", obj) {
					e, err := explain.Explain(result.Project, env, objs, ref, path)
					if err != nil {
						t.Errorf("%s %s %s %s: %v", input, env, ref, path, err)
						continue
					}
					switch {
					case len(e.Sources) > 0:
						fromCUE++
					case e.Default != "":
						fromEnvgen++
					default:
						t.Errorf("%s %s %s %s: no explanation", input, env, ref, path)
					}
				}
			}
		}
	}
	t.Logf("%d fields traced to envgen.cue, %d set by envgen", fromCUE, fromEnvgen)
	if fromCUE == 0 || fromEnvgen == 0 {
		t.Error("expected both kinds of explanation")
	}
}

func TestExplainNamesEveryLayer(t *testing.T) {
	result, err := pipeline.Load(filepath.Join("..", "examples", "citoid", "envgen.cue"), compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	objs := rendered(t, result, "production-eqiad")
	e, err := explain.Explain(result.Project, "production-eqiad", objs, "horizontalpodautoscaler/citoid", "spec.minReplicas")
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(e.Value)
	if got != "10" || len(e.Sources) != 1 || len(e.Sources[0].Contributions) != 2 {
		t.Fatalf("got %s %+v", got, e.Sources)
	}
	c := e.Sources[0].Contributions
	if c[0].Layer != "environment production" || c[1].Layer != "environment production-eqiad" || c[1].Value != "10" {
		t.Errorf("contributions %+v", c)
	}
	for _, x := range c {
		if !strings.HasPrefix(x.Position, filepath.Join("..", "examples", "citoid", "envgen.cue")+":") {
			t.Errorf("position %q is not in envgen.cue", x.Position)
		}
	}
}

func rendered(t *testing.T, r *pipeline.Result, env string) []map[string]any {
	t.Helper()
	built, err := r.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	return built.Objects
}

// leaves lists the paths of every scalar (and empty map or list) in v.
func leaves(prefix string, v any) []string {
	join := func(k string) string {
		if strings.ContainsAny(k, ".[]/") {
			return fmt.Sprintf("%s[%q]", prefix, k)
		}
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return []string{prefix}
		}
		var out []string
		for k, child := range x {
			out = append(out, leaves(join(k), child)...)
		}
		return out
	case []any:
		var out []string
		for i, child := range x {
			out = append(out, leaves(fmt.Sprintf("%s[%d]", prefix, i), child)...)
		}
		return out
	}
	return []string{prefix}
}
