package difftest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/casegen"
	"envgen.dev/envgen/overlays"
	"envgen.dev/envgen/pipeline"
)

// The defaults of a run; ENVGEN_DIFF_CASES and ENVGEN_DIFF_SEED change them.
const (
	defaultCases = 300
	defaultSeed  = 20261127
)

func envInt(t *testing.T, name string, def uint64) uint64 {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// TestGeneratedCases is the differential test: generated envgen.cue →
// envgen's objects vs kustomize's build of the tree on disk vs
// kube-apiserver's validation.
func TestGeneratedCases(t *testing.T) {
	cases := envInt(t, "ENVGEN_DIFF_CASES", defaultCases)
	seed := envInt(t, "ENVGEN_DIFF_SEED", defaultSeed)
	if testing.Short() {
		cases = min(cases, 50)
	}
	var api *dryRunner
	if cluster != nil {
		var err error
		if api, err = newDryRunner(context.Background(), cluster.Config); err != nil {
			t.Fatal(err)
		}
	}
	var envs, objects, refused, pastLimits int
	for i := range cases {
		c := casegen.New(seed + i)
		// Half of the cases (and of those kubectl builds) have every patch
		// written as a JSON patch, the form envgen chooses for objects with
		// long lists (which the generator does not write).
		overlays.JSONPatchFrom = 64
		if i%4 >= 2 {
			overlays.JSONPatchFrom = 0
		}
		// Every tenth case also goes through kubectl's own kustomize, in
		// its own process with kustomize's whole built-in schema: envgen's
		// in-process engine reads a trimmed copy of it (overlays/kubeschema.json).
		e, o, err := checkCase(t, c, api, i%10 == 0)
		var input *compiler.InputError
		if errors.As(err, &input) {
			// The generator does not know every cross-layer rule; a refusal is
			// a right answer when it names envgen.cue's line and column.
			if !strings.HasPrefix(err.Error(), "envgen.cue:") {
				t.Errorf("case %d (ENVGEN_DIFF_SEED=%d): refused without a position: %v", i, c.Seed, err)
			}
			if len(c.PastLimits) > 0 {
				pastLimits++ // planted past a limit: refused as it must be
				continue
			}
			refused++
			if os.Getenv("ENVGEN_DIFF_REFUSALS") != "" {
				t.Logf("case %d refused: %v", i, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("case %d (ENVGEN_DIFF_SEED=%d ENVGEN_DIFF_CASES=1): %v\n--- envgen.cue ---\n%s", i, c.Seed, err, c.Source)
			if t.Failed() && i > 3 {
				break // one failure shown whole is more use than hundreds
			}
			continue
		}
		envs += e
		objects += o
	}
	where := "kustomize only (-short: no API server)"
	if api != nil {
		where = "krusty from disk (every case), kubectl kustomize (every tenth) and kube-apiserver dry-run with strict field validation in a PSS-restricted namespace"
	}
	t.Logf("difftest: %d generated cases from seed %d (%d with a value past kube-apiserver's limits, refused; %d others refused by envgen at a position), %d environments, %d objects checked against %s",
		cases, seed, pastLimits, refused, envs, objects, where)
	if refused > int(cases)/5 {
		t.Errorf("%d of %d generated cases were refused: the generator has drifted from the schema", refused, cases)
	}
}

// checkCase runs one case; it returns how many environments and objects
// were checked.
func checkCase(t *testing.T, c casegen.Case, api *dryRunner, viaKubectl bool) (envs, objects int, err error) {
	result, err := pipeline.LoadSource("envgen.cue", c.Source, compiler.Options{})
	if err != nil {
		return 0, 0, err
	}
	// Tree proves every overlay with krusty in memory against the compiled
	// objects (an *overlays.MismatchError otherwise).
	tree, err := result.Tree()
	if err != nil {
		var mismatch *overlays.MismatchError
		if errors.As(err, &mismatch) {
			return 0, 0, fmt.Errorf("kustomize disagrees with envgen: %w", err)
		}
		return 0, 0, err
	}
	if err := checkSelectors(result.Project.Name, result.Environments); err != nil {
		return 0, 0, err
	}
	if err := checkEmptyDirsFilled(result.Environments); err != nil {
		return 0, 0, err
	}
	dir := t.TempDir()
	deploy := filepath.Join(dir, "deploy")
	if err := overlays.Write(deploy, tree); err != nil {
		return 0, 0, err
	}
	for _, env := range result.Project.EnvironmentNames() {
		built, err := result.Render(env)
		if err != nil {
			return 0, 0, fmt.Errorf("envgen build --env %s: %w", env, err)
		}
		// What a user runs: stock kustomize on the committed tree.
		opts := krusty.MakeDefaultOptions()
		opts.Reorder = krusty.ReorderOptionLegacy // the CLI's default
		resMap, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), filepath.Join(deploy, "overlays", env))
		if err != nil {
			return 0, 0, fmt.Errorf("kustomize build overlays/%s: %w", env, err)
		}
		fromDisk, err := resMap.AsYaml()
		if err != nil {
			return 0, 0, err
		}
		if !bytes.Equal(fromDisk, built.YAML) {
			return 0, 0, fmt.Errorf("overlays/%s: kustomize build of the tree on disk is not byte for byte envgen build --env %s", env, env)
		}
		if viaKubectl && cluster != nil {
			kubectl := exec.Command(filepath.Join(cluster.Bin, "kubectl"), "kustomize", filepath.Join(deploy, "overlays", env))
			var stderr bytes.Buffer
			kubectl.Stderr = &stderr
			out, err := kubectl.Output()
			if err != nil || stderr.Len() > 0 {
				return 0, 0, fmt.Errorf("kubectl kustomize overlays/%s: %v %s", env, err, stderr.String())
			}
			if !bytes.Equal(out, built.YAML) {
				return 0, 0, fmt.Errorf("overlays/%s: kubectl kustomize is not byte for byte envgen build --env %s:\n%s", env, env, cmp.Diff(string(built.YAML), string(out)))
			}
		}
		if api != nil {
			if err := api.check(context.Background(), env, built.Objects); err != nil {
				return 0, 0, err
			}
		}
		envs++
		objects += len(built.Objects)
	}
	return envs, objects, nil
}

// TestGeneratorCoversTheSchema guards the generator itself: over the
// default run, every field of the schema appears, in some case, at the
// top level and in an environment, and every transition kind happens.
func TestGeneratorCoversTheSchema(t *testing.T) {
	seen := map[string]bool{}
	for i := range uint64(defaultCases) {
		c := casegen.New(defaultSeed + i)
		for _, f := range casegen.Fields(c) {
			seen[f] = true
		}
	}
	for _, want := range casegen.SchemaFields() {
		for _, layer := range []string{"top", "env"} {
			if !seen[layer+":"+want] {
				t.Errorf("no generated case sets %s at the %s level", want, layer)
			}
		}
	}
	for _, want := range casegen.ReleaseFields() {
		if !seen["release:"+want] {
			t.Errorf("no generated case sets %s in a release", want)
		}
	}
}
