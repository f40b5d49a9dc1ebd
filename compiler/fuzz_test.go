package compiler_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/casegen"
	"envgen.dev/envgen/pipeline"
)

// maxCompileTime bounds one compile of fuzzed input: envgen must never hang.
// It is short, well under the time the fuzz engine waits for a worker, so
// that a slow input is reported as a failure with its text, not as a hung
// worker with nothing saved.
const maxCompileTime = 3 * time.Second

// maxFuzzHeap bounds the heap of a fuzz worker. An input that makes the
// compile allocate past it crashes the worker with a panic that says so,
// which makes the fuzzer keep the input, instead of the machine's OOM
// killer ending the worker with nothing saved.
const maxFuzzHeap = 2 << 30

func heapWatchdog() {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	for range time.Tick(10 * time.Millisecond) {
		metrics.Read(sample)
		if heap := sample[0].Value.Uint64(); heap > maxFuzzHeap {
			if src := running.Load(); src != nil {
				abandonInput(*src, fmt.Sprintf("a compile allocated more than %d MiB of heap", heap>>20))
			}
			panic(fmt.Sprintf("a compile allocated more than %d MiB of heap", heap>>20))
		}
	}
}

// running is the input under compile, for the heap watchdog.
var running atomic.Pointer[[]byte]

// abandonInput keeps an input whose compile ran past maxCompileTime or
// maxFuzzHeap as a seed of this target, then ends the worker process. CUE's evaluation
// cannot be cancelled: the compile goroutine would go on burning CPU and
// memory beside the next inputs, and the fuzz engine, minimizing in the
// same poisoned process, would lose the input ("hung or terminated
// unexpectedly while minimizing", a tiny candidate that never reproduces).
// Saved first, the input survives whatever the engine does next.
func abandonInput(src []byte, why string) {
	dir := filepath.Join("testdata", "fuzz", "FuzzCompile")
	name := fmt.Sprintf("costly-%x", sha256.Sum256(src))[:23]
	body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(src)) + ")\n"
	if err := os.MkdirAll(dir, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	fmt.Fprintf(os.Stderr, "%s; input kept as %s\n", why, filepath.Join(dir, name))
	os.Exit(1)
}

// FuzzCompile feeds CUE text through the whole path to the kustomize
// tree, with an oracle: the input is refused with an *InputError, or the
// tree it generates builds, with kustomize's own engine, into exactly the
// objects envgen compiled (pipeline.Result.Tree proves every overlay);
// never a panic, a hang or a disagreement. Seeds: the examples, every
// envgen.cue of the testscripts (the bad-input catalog included) and
// generated cases. `make fuzz` runs it time-boxed.
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
		if filepath.Base(path) == "budget.txtar" {
			continue // inputs made to exhaust memory: the CLI's budget stops them
		}
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
	for seed := range uint64(20) {
		f.Add(casegen.New(seed).Source)
	}
	go heapWatchdog()
	f.Fuzz(func(t *testing.T, src []byte) {
		var (
			result *pipeline.Result
			err    error
			done   = make(chan struct{})
		)
		running.Store(&src)
		defer running.Store(nil)
		go func() {
			defer close(done)
			result, err = pipeline.LoadSource("envgen.cue", src, compiler.Options{})
		}()
		select {
		case <-done:
		case <-time.After(maxCompileTime):
			abandonInput(src, fmt.Sprintf("compile still running after %s", maxCompileTime))
		}
		if err != nil {
			if _, ok := err.(*compiler.InputError); !ok {
				t.Fatalf("error of type %T, want *compiler.InputError: %v", err, err)
			}
			return
		}
		if _, err := result.Tree(); err != nil {
			t.Fatalf("a valid envgen.cue failed to generate a tree that means it: %v", err)
		}
	})
}
