package difftest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/pipeline"
)

// TestAcceptedInputsAreApplyable: every envgen.cue of the testscripts
// (the bad-input catalog's accepted variants among them) that envgen
// accepts gives objects kube-apiserver accepts, in every environment.
// Accepted means applyable, on the inputs written to probe the edges.
func TestAcceptedInputsAreApplyable(t *testing.T) {
	if cluster == nil {
		t.Skip("needs the test control plane")
	}
	api, err := newDryRunner(context.Background(), cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	scripts, _ := filepath.Glob(filepath.Join("..", "testscripts", "*.txtar"))
	accepted, refused := 0, 0
	for _, script := range scripts {
		if filepath.Base(script) == "budget.txtar" {
			continue // made to exhaust the compile budget
		}
		archive, err := txtar.ParseFile(script)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range archive.Files {
			if !strings.HasSuffix(f.Name, "envgen.cue") {
				continue
			}
			result, err := pipeline.LoadSource(f.Name, f.Data, compiler.Options{})
			if err != nil {
				refused++
				continue
			}
			accepted++
			for _, env := range result.Project.EnvironmentNames() {
				built, err := result.Render(env)
				if err != nil {
					t.Errorf("%s %s: envgen build --env %s: %v", script, f.Name, env, err)
					continue
				}
				if err := api.check(context.Background(), env, built.Objects); err != nil {
					t.Errorf("%s %s: %v", script, f.Name, err)
				}
			}
		}
	}
	t.Logf("%d accepted testscript inputs sent to kube-apiserver in every environment; %d refused by envgen", accepted, refused)
	if accepted < 10 {
		t.Errorf("only %d testscript inputs were accepted", accepted)
	}
}
