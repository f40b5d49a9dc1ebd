package compiler_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/overlays"
)

// maxCompileTime bounds one compile of fuzzed input: envgen must never hang.
const maxCompileTime = 10 * time.Second

// FuzzCompile feeds CUE text through the whole compile path: it must give
// objects or an error, never a panic or a hang. Seeds: the examples and
// every envgen.cue of the testscripts (the bad-input catalog included).
// `make fuzz` runs it time-boxed.
func FuzzCompile(f *testing.F) {
	examples, _ := filepath.Glob(filepath.Join("..", "examples", "*", "envgen.cue"))
	for _, path := range examples {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	scripts, _ := filepath.Glob(filepath.Join("..", "testscripts", "*.txtar"))
	for _, path := range scripts {
		archive, err := txtar.ParseFile(path)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range archive.Files {
			if strings.HasSuffix(file.Name, ".cue") {
				f.Add(file.Data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		var (
			project *compiler.Project
			err     error
			done    = make(chan struct{})
		)
		go func() {
			defer close(done)
			project, err = compiler.Compile("envgen.cue", src, compiler.Options{})
		}()
		select {
		case <-done:
		case <-time.After(maxCompileTime):
			t.Fatalf("compile still running after %s", maxCompileTime)
		}
		if err != nil {
			if _, ok := err.(*compiler.InputError); !ok {
				t.Fatalf("error of type %T, want *compiler.InputError: %v", err, err)
			}
			return
		}
		base := manifests.Build("", project.Base)
		var envs []overlays.Environment
		for _, env := range project.Environments {
			envs = append(envs, overlays.Environment{Name: env.Name, Objects: manifests.Build(env.Name, env.Service)})
		}
		if _, err := overlays.Generate(base, envs); err != nil {
			t.Fatalf("a valid envgen.cue failed to generate: %v", err)
		}
	})
}
