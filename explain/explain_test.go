package explain_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/explain"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/pipeline"
)

// TestEveryFieldOfEveryObjectIsExplained walks every leaf of every object
// of every environment of every example and wants an explanation: the
// envgen.cue values behind it, or the reason envgen sets it. Where a
// field is copied from envgen.cue as written (a command, a resource, a
// schedule), the value explain says is in effect must hold the rendered
// one: explain once traced a job's command to the service's.
func TestEveryFieldOfEveryObjectIsExplained(t *testing.T) {
	examples, _ := filepath.Glob(filepath.Join("..", "examples", "*", "envgen.cue"))
	if len(examples) == 0 {
		t.Fatal("no examples")
	}
	// Names that are no CUE identifiers (jobs."load-datasets") in every
	// place a name of the user's becomes a field.
	dir := t.TempDir()
	hyphens := filepath.Join(dir, "envgen.cue")
	if err := os.WriteFile(hyphens, []byte(hyphenatedNames), 0o600); err != nil {
		t.Fatal(err)
	}
	fromCUE, fromEnvgen := 0, 0
	for _, input := range append(examples, hyphens) {
		result, err := pipeline.Load(input, compiler.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, env := range result.Project.EnvironmentNames() {
			objs := rendered(t, result, env)
			for _, obj := range objs {
				ref := strings.ToLower(obj["kind"].(string)) + "/" + obj["metadata"].(map[string]any)["name"].(string)
				for _, path := range leaves("", obj) {
					// envgen-render's arguments and resources are envgen's, made
					// from fileSecrets, not copied from envgen.cue.
					copied := verbatim.MatchString(path) && !ofRenderer(obj, path)
					e, err := explain.Explain(result.Project, env, objs, ref, path)
					if err != nil {
						t.Errorf("%s %s %s %s: %v", input, env, ref, path, err)
						continue
					}
					switch {
					case len(e.Sources) > 0:
						fromCUE++
						if inEffect := inEffect(e); copied && !strings.Contains(inEffect, fmt.Sprint(e.Value)) {
							t.Errorf("%s %s %s %s = %v, but explain says %s is in effect", input, env, ref, path, e.Value, inEffect)
						}
					case e.Default != "":
						fromEnvgen++
						if copied {
							t.Errorf("%s %s %s %s: %q, but it is copied from envgen.cue", input, env, ref, path, e.Default)
						}
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

// verbatim matches the paths of fields copied from envgen.cue as written.
var verbatim = regexp.MustCompile(`(\.(command|args)\[\d+\]|\.resources\.(limits|requests)\.\w+|^spec\.(schedule|timeZone|concurrencyPolicy|suspend))$`)

// inEffect is the value of the first envgen.cue field behind e that has
// one, as envgen.cue spells it.
func inEffect(e *explain.Explanation) string {
	for _, s := range e.Sources {
		if n := len(s.Contributions); n > 0 {
			return s.Contributions[n-1].Value
		}
	}
	return ""
}

const hyphenatedNames = `name: "svc"
image: "registry.example.org/svc"
tag: "1.0"
ports: http: 8080
command: ["serve"]
resources: limits: {cpu: "1", memory: "1Gi"}
containers: {
	"mesh-proxy": {kind: "proxy", image: "registry.example.org/envoy", tag: "1.30", args: ["--mesh"], ports: admin: 9901, resources: limits: cpu: "200m", probes: startup: tcp: port: "admin"}
	"schema-fetch": {kind: "init", command: ["fetch", "--schema"], resources: requests: cpu: "50m"}
	"log-shipper": {command: ["ship"], resources: limits: memory: "64Mi"}
}
jobs: "nightly-purge": {schedule: "0 3 * * *", command: ["purge", "--all"], resources: limits: cpu: "300m", timeZone: "Europe/Berlin", concurrencyPolicy: "Forbid"}
ci: {
	stages: {
		"unit-tests": command: ["make", "unit"]
		"lint-all": {command: ["make", "lint"], needs: ["unit-tests"]}
	}
	services: "test-db": {image: "registry.example.org/db", tag: "16", ports: pg: 5432, command: ["db", "--test"], resources: limits: memory: "256Mi"}
}
environments: {
	development: {}
	ci: {}
	staging: {}
	production: {
		containers: "mesh-proxy": args: ["--mesh", "--prod"]
		jobs: "nightly-purge": suspend: true
	}
}
releases: "canary-one": {
	environments: ["production"]
	args: ["--canary"]
	containers: "log-shipper": resources: limits: memory: "128Mi"
}
`

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

// initContainerIndex finds the init container a leaf path is in.
var initContainerIndex = regexp.MustCompile(`(^|\.)initContainers\[(\d+)\]\.`)

// ofRenderer says whether a leaf path of obj is in envgen-render's
// container.
func ofRenderer(obj map[string]any, path string) bool {
	m := initContainerIndex.FindStringSubmatch(path)
	if m == nil {
		return false
	}
	spec := obj["spec"].(map[string]any)
	for _, step := range []string{"jobTemplate", "spec", "template", "spec"} {
		if inner, ok := spec[step].(map[string]any); ok {
			spec = inner
		}
	}
	inits, _ := spec["initContainers"].([]any)
	i, _ := strconv.Atoi(m[2])
	if i >= len(inits) {
		return false
	}
	c, _ := inits[i].(map[string]any)
	return c["name"] == manifests.RendererName
}
