package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"envgen.dev/envgen/cmd/envgen/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"envgen": func() { os.Exit(cli.Main()) },
	})
}

// TestScripts drives the real envgen binary with the scripts in
// testscripts/. ENVGEN_UPDATE=1 rewrites their expected output.
func TestScripts(t *testing.T) {
	examples, err := filepath.Abs(filepath.Join("..", "..", "examples"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "..", "testscripts"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       os.Getenv("ENVGEN_UPDATE") != "",
		Setup: func(env *testscript.Env) error {
			env.Setenv("EXAMPLES", examples)
			return nil
		},
	})
}
