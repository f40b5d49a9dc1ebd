package pipeline_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cuelang.org/go/cue/format"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/golden"
	"envgen.dev/envgen/internal/kubetypes"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/overlays"
	"envgen.dev/envgen/pipeline"
)

var examples = []string{"citoid", "linkrecommendation", "mathoid", "mw-cron", "thumbnail-worker", "wiki-web"}

func load(t *testing.T, example string) *pipeline.Result {
	t.Helper()
	r, err := pipeline.Load(filepath.Join("..", "examples", example, "envgen.cue"), compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func renderYAML(t *testing.T, r *pipeline.Result, env string) []byte {
	t.Helper()
	built, err := r.Render(env)
	if err != nil {
		t.Fatal(err)
	}
	return built.YAML
}

// TestExamplesGolden pins the generated tree and every rendered
// environment of every example.
func TestExamplesGolden(t *testing.T) {
	for _, example := range examples {
		t.Run(example, func(t *testing.T) {
			r := load(t, example)
			tree, err := r.Tree()
			if err != nil {
				t.Fatal(err)
			}
			golden.ExampleTree(t, example, tree)
			builds := map[string][]byte{}
			for _, env := range r.Project.EnvironmentNames() {
				builds[env+".yaml"] = renderYAML(t, r, env)
			}
			golden.Tree(t, example+"/build", builds)
		})
	}
}

// TestKustomizeBuildMatchesEnvgen builds every overlay of the generated tree
// with kustomize's own engine, from disk, and wants exactly envgen's
// rendering: the same objects and the same bytes.
func TestKustomizeBuildMatchesEnvgen(t *testing.T) {
	for _, example := range examples {
		r := load(t, example)
		tree, err := r.Tree()
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := overlays.Write(filepath.Join(dir, "deploy"), tree); err != nil {
			t.Fatal(err)
		}
		for _, env := range r.Project.EnvironmentNames() {
			t.Run(example+"/"+env, func(t *testing.T) {
				opts := krusty.MakeDefaultOptions()
				opts.Reorder = krusty.ReorderOptionLegacy // the CLI's default
				resMap, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), filepath.Join(dir, "deploy", "overlays", env))
				if err != nil {
					t.Fatalf("kustomize build: %v", err)
				}
				kustomized, err := resMap.AsYaml()
				if err != nil {
					t.Fatal(err)
				}
				envgen := renderYAML(t, r, env)
				if diff := cmp.Diff(decodeAll(t, envgen), decodeAll(t, kustomized)); diff != "" {
					t.Fatalf("kustomize build differs from envgen build (-envgen +kustomize):\n%s", diff)
				}
				if !bytes.Equal(envgen, kustomized) {
					t.Errorf("same objects, different bytes:\n%s", cmp.Diff(string(envgen), string(kustomized)))
				}
			})
		}
	}
}

// TestDeterministic compiles every example twice and wants identical bytes.
func TestDeterministic(t *testing.T) {
	for _, example := range examples {
		first, second := load(t, example), load(t, example)
		t1, _ := first.Tree()
		t2, _ := second.Tree()
		if diff := cmp.Diff(t1, t2); diff != "" {
			t.Errorf("%s: two generates differ:\n%s", example, diff)
		}
		for _, env := range first.Project.EnvironmentNames() {
			if !bytes.Equal(renderYAML(t, first, env), renderYAML(t, second, env)) {
				t.Errorf("%s/%s: two builds differ", example, env)
			}
		}
	}
}

// TestObjectsDecodeStrictly decodes every rendered object into its k8s.io/api
// type, failing on any field the type does not have.
func TestObjectsDecodeStrictly(t *testing.T) {
	for _, example := range examples {
		r := load(t, example)
		for _, env := range r.Project.EnvironmentNames() {
			for _, doc := range decodeAll(t, renderYAML(t, r, env)) {
				kind := doc["kind"].(string)
				if custom, ok := r.Project.Base.CustomKinds[kind]; ok && doc["apiVersion"] == custom.APIVersion {
					continue // the CRD's, checked against customKinds' #schema by the compiler
				}
				typed := typedObject(kind)
				if typed == nil {
					t.Errorf("%s/%s: no k8s.io/api type known for kind %s", example, env, kind)
					continue
				}
				data, _ := json.Marshal(doc)
				dec := json.NewDecoder(bytes.NewReader(data))
				dec.DisallowUnknownFields()
				if err := dec.Decode(typed); err != nil {
					t.Errorf("%s/%s: %s does not decode strictly: %v", example, env, kind, err)
				}
			}
		}
	}
}

// TestPodsMeetRestrictedProfile runs the Pod Security Standard checks of
// k8s.io/pod-security-admission (the admission plugin's own code) on every
// Pod and Pod template of every environment.
func TestPodsMeetRestrictedProfile(t *testing.T) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	restricted := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	for _, example := range examples {
		r := load(t, example)
		for _, env := range r.Project.EnvironmentNames() {
			pods := 0
			for _, doc := range decodeAll(t, renderYAML(t, r, env)) {
				meta, spec := podOf(t, doc)
				if spec == nil {
					continue
				}
				pods++
				result := policy.AggregateCheckResults(evaluator.EvaluatePod(restricted, meta, spec))
				if !result.Allowed {
					t.Errorf("%s/%s %s %v: violates restricted: %s", example, env, doc["kind"], doc["metadata"].(map[string]any)["name"], result.ForbiddenDetail())
				}
				if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
					t.Errorf("%s/%s: service account token mounted without being asked for", example, env)
				}
			}
			if pods == 0 {
				t.Errorf("%s/%s: no Pods checked", example, env)
			}
		}
	}
}

// TestImagesPinnedAndNoSecretValues checks the security rules on output:
// no mutable tags outside development, and no literal value for a variable
// whose name says it is a secret.
func TestImagesPinnedAndNoSecretValues(t *testing.T) {
	for _, example := range examples {
		r := load(t, example)
		for _, env := range r.Project.EnvironmentNames() {
			for _, doc := range decodeAll(t, renderYAML(t, r, env)) {
				_, spec := podOf(t, doc)
				if spec == nil {
					continue
				}
				for _, c := range spec.Containers {
					pinned := strings.Contains(c.Image, "@sha256:") || (strings.Contains(c.Image, ":") && !strings.HasSuffix(c.Image, ":latest"))
					if env != "development" && !pinned {
						t.Errorf("%s/%s: image %s is not pinned", example, env, c.Image)
					}
					for _, e := range c.Env {
						if looksSecret(e.Name) && e.ValueFrom == nil {
							t.Errorf("%s/%s: %s has a literal value", example, env, e.Name)
						}
					}
				}
			}
		}
	}
}

func looksSecret(name string) bool {
	for _, word := range []string{"PASSWORD", "TOKEN", "SECRET", "KEY", "CREDENTIAL"} {
		if strings.Contains(strings.ToUpper(name), word) {
			return true
		}
	}
	return false
}

func decodeAll(t *testing.T, stream []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, doc := range strings.Split(string(stream), "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("decoding YAML: %v", err)
		}
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}

// typedObject is an empty object of kind's k8s.io/api type.
func typedObject(kind string) any {
	if k, ok := kubetypes.Kinds[kind]; ok {
		return k.New()
	}
	return nil
}

// podOf is the Pod metadata and spec of a rendered object that runs Pods.
func podOf(t *testing.T, doc map[string]any) (*metav1.ObjectMeta, *corev1.PodSpec) {
	t.Helper()
	if k, ok := kubetypes.Kinds[doc["kind"].(string)]; !ok || k.APIVersion != doc["apiVersion"] {
		return nil, nil // a custom kind runs no Pods envgen knows of
	}
	obj, err := kubetypes.Decode(doc["kind"].(string), doc)
	if err != nil {
		t.Fatal(err)
	}
	return manifests.PodOf(obj)
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}

// TestExamplesAreCueFormatted: `cue fmt` leaves every example unchanged,
// so a team that copies one starts from canonical CUE.
func TestExamplesAreCueFormatted(t *testing.T) {
	for _, example := range examples {
		path := filepath.Join("..", "examples", example, "envgen.cue")
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		formatted, err := format.Source(src)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if diff := cmp.Diff(string(src), string(formatted)); diff != "" {
			t.Errorf("%s is not as cue fmt writes it (-file +cue fmt):\n%s", path, diff)
		}
	}
}
