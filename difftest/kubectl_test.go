package difftest

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/overlays"
	"envgen.dev/envgen/pipeline"
)

// TestKubectlApplyExamples: `kubectl apply -k` (kubectl v1.37, its own
// kustomize) of every overlay of every example, server-side dry-run in the
// restricted namespace: accepted, and not one warning on stderr.
func TestKubectlApplyExamples(t *testing.T) {
	if cluster == nil {
		t.Skip("needs the test control plane")
	}
	if _, err := newDryRunner(context.Background(), cluster.Config); err != nil { // the namespace
		t.Fatal(err)
	}
	examples, _ := filepath.Glob(filepath.Join("..", "examples", "*", "envgen.cue"))
	for _, path := range examples {
		result, err := pipeline.Load(path, compiler.Options{})
		if err != nil {
			t.Fatal(err)
		}
		tree, err := result.Tree()
		if err != nil {
			t.Fatal(err)
		}
		deploy := filepath.Join(t.TempDir(), "deploy")
		if err := overlays.Write(deploy, tree); err != nil {
			t.Fatal(err)
		}
		for _, env := range result.Project.EnvironmentNames() {
			cmd := exec.Command(filepath.Join(cluster.Bin, "kubectl"), "--kubeconfig", cluster.Kubeconfig,
				"apply", "-k", filepath.Join(deploy, "overlays", env), "--dry-run=server", "-n", dryRunNamespace)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil || stderr.Len() > 0 {
				t.Errorf("kubectl apply -k overlays/%s of %s: %v\nstderr:\n%s", env, path, err, stderr.String())
			}
			if stdout.Len() == 0 {
				t.Errorf("kubectl apply -k overlays/%s of %s applied nothing", env, path)
			}
		}
	}
}
