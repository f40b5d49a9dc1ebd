package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"envgen.dev/envgen/cmd/envgen/clustercli"
	"envgen.dev/envgen/internal/registrytest"
)

func TestMain(m *testing.M) {
	testscript.Main(cleanAfter{m}, map[string]func(){
		"envgen": func() { os.Exit(clustercli.Main()) },
	})
}

// cleanAfter removes what the package's tests share (buildPair) when they
// are done.
type cleanAfter struct{ m *testing.M }

func (c cleanAfter) Run() int {
	defer func() {
		if pair.dir != "" {
			os.RemoveAll(pair.dir)
		}
	}()
	return c.m.Run()
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
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"genfile":   genfile,
			"registry":  startRegistry,
			"pushimage": pushImage,
			"envsubst":  envsubst,
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("EXAMPLES", examples)
			return nil
		},
	})
}

// genfile writes inputs too big or too odd for a txtar file:
//
//	genfile big PATH MB      a valid-looking CUE file of MB megabytes
//	genfile deep PATH N      a file nested N levels deep
//	genfile garbage PATH N   N bytes of binary garbage (fixed seed)
//	genfile fields PATH N    a valid service with N hidden fields more
func genfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: genfile big|deep|garbage PATH N")
	}
	n, err := strconv.Atoi(args[2])
	ts.Check(err)
	var data []byte
	switch args[0] {
	case "big":
		line := []byte("// padding padding padding padding padding padding padding padding\n")
		data = append([]byte("name: \"big\"\n"), bytes.Repeat(line, n<<20/len(line))...)
	case "deep":
		data = []byte("name: \"deep\"\nimage: \"r.example.org/deep\"\ntag: \"1\"\nannotations: " +
			strings.Repeat("{a: ", n) + "\"x\"" + strings.Repeat("}", n) + "\n")
	case "fields":
		var b strings.Builder
		b.WriteString("name: \"svc\"\nimage: \"registry.example.org/svc\"\ntag: \"1.0\"\n")
		for i := range n {
			fmt.Fprintf(&b, "_f%d: %d\n", i, i)
		}
		data = []byte(b.String())
	case "garbage":
		rng := rand.New(rand.NewPCG(1, 2))
		data = make([]byte, n)
		for i := range data {
			data[i] = byte(rng.IntN(256))
		}
	default:
		ts.Fatalf("unknown kind %q", args[0])
	}
	ts.Check(os.MkdirAll(filepath.Dir(ts.MkAbs(args[1])), 0o755))
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), data, 0o644))
}

// scriptT lets registrytest serve a registry for as long as a script runs.
type scriptT struct{ ts *testscript.TestScript }

func (s scriptT) Helper()           {}
func (s scriptT) Fatal(args ...any) { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
func (s scriptT) Cleanup(f func())  { s.ts.Defer(f) }

// startRegistry serves an OCI registry (go-containerregistry's) for the
// script, at $REGISTRY.
//
//	registry
func startRegistry(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: registry")
	}
	ts.Setenv("REGISTRY", registrytest.Start(scriptT{ts}, false))
}

// pushImage pushes an image and puts its digest into a variable:
//
//	pushimage built VAR REF BUILDER COMMIT   as BuildKit pushes it, with a SLSA provenance
//	pushimage random VAR REF                 a single image, no provenance
func pushImage(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: pushimage built|random VAR REF [BUILDER COMMIT]")
	}
	var digest string
	var err error
	switch {
	case args[0] == "built" && len(args) == 5:
		digest, err = registrytest.PushBuilt(args[2], args[3], args[4])
	case args[0] == "random" && len(args) == 3:
		digest, err = registrytest.PushRandom(args[2])
	default:
		ts.Fatalf("usage: pushimage built|random VAR REF [BUILDER COMMIT]")
	}
	ts.Check(err)
	ts.Setenv(args[1], digest)
}

// envsubst replaces $VARIABLE in files with the script's variables.
//
//	envsubst FILE...
func envsubst(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: envsubst FILE...")
	}
	for _, f := range args {
		data, err := os.ReadFile(ts.MkAbs(f))
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(f), []byte(os.Expand(string(data), ts.Getenv)), 0o644))
	}
}
