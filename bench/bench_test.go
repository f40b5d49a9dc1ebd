// Package bench measures `envgen build --env ci` against the stock pipeline
// that does the same job: `cue export` of envgen.cue plus `kustomize build`
// of the generated ci overlay, each as the process a user would run.
// Run with `make bench`, which builds all three binaries first.
package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/pipeline"
)

const example = "citoid"

func binary(b *testing.B, name string) string {
	dir := os.Getenv("ENVGEN_BENCH_BIN")
	if dir == "" {
		b.Skip("ENVGEN_BENCH_BIN is not set; run make bench")
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		b.Skipf("%s not built; run make bench", path)
	}
	return path
}

// maxrss is the path of the bench/maxrss wrapper, built once.
var maxrss string

func buildMaxRSS(b *testing.B) {
	if maxrss != "" {
		return
	}
	path := filepath.Join(os.TempDir(), "envgen-bench-maxrss")
	if out, err := exec.Command("go", "build", "-o", path, "./maxrss").CombinedOutput(); err != nil {
		b.Fatalf("building maxrss: %v\n%s", err, out)
	}
	maxrss = path
}

// run runs a command and returns its wall time and peak resident memory
// (measured by bench/maxrss, whose start-up is in the time of both sides).
func run(b *testing.B, name string, args ...string) (time.Duration, int64) {
	cmd := exec.Command(maxrss, append([]string{name}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, stderr.Bytes())
	}
	elapsed := time.Since(start)
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	var peak int64
	if _, err := fmt.Sscanf(lines[len(lines)-1], "maxrss %d", &peak); err != nil {
		b.Fatalf("no maxrss from %s: %q", name, stderr.String())
	}
	return elapsed, peak
}

// BenchmarkBuildCI alternates envgen and the stock pipeline in every
// iteration, so both see the same machine, and reports each one's time and
// peak memory and the ratio envgen/stock (target: ≤ 0.5, and < 60 MiB).
func BenchmarkBuildCI(b *testing.B) {
	envgen, cue, kustomize := binary(b, "envgen"), binary(b, "cue"), binary(b, "kustomize")
	buildMaxRSS(b)
	root, _ := filepath.Abs(filepath.Join("..", ""))
	input := filepath.Join(root, "examples", example, "envgen.cue")
	overlay := filepath.Join(root, "examples", example, "deploy", "overlays", "ci")

	var envgenTime, stockTime time.Duration
	var envgenPeak, stockPeak int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, peak := run(b, envgen, "build", "--env", "ci", input)
		envgenTime += d
		envgenPeak = max(envgenPeak, peak)

		d1, peak1 := run(b, cue, "export", input)
		d2, peak2 := run(b, kustomize, "build", overlay)
		stockTime += d1 + d2
		stockPeak = max(stockPeak, peak1, peak2)
	}
	n := float64(b.N)
	b.ReportMetric(float64(envgenTime.Milliseconds())/n, "envgen-ms/op")
	b.ReportMetric(float64(stockTime.Milliseconds())/n, "stock-ms/op")
	b.ReportMetric(float64(envgenTime)/float64(stockTime), "envgen/stock")
	b.ReportMetric(float64(envgenPeak)/(1<<20), "envgen-peak-MiB")
	b.ReportMetric(float64(stockPeak)/(1<<20), "stock-peak-MiB")
}

// BenchmarkStartup measures what a command costs before it does anything:
// `envgen version` against `kustomize version` and `cue version`, each the
// process a user runs, alternating. Go runs the init of every package the
// binary links before main, whatever the command: this is the floor of
// every envgen command (the target was 10 ms).
func BenchmarkStartup(b *testing.B) {
	envgen, cue, kustomize := binary(b, "envgen"), binary(b, "cue"), binary(b, "kustomize")
	buildMaxRSS(b)
	tools := []struct {
		name, path string
		time       time.Duration
		peak       int64
	}{{name: "envgen", path: envgen}, {name: "kustomize", path: kustomize}, {name: "cue", path: cue}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range tools {
			d, peak := run(b, tools[k].path, "version")
			tools[k].time += d
			tools[k].peak = max(tools[k].peak, peak)
		}
	}
	n := float64(b.N)
	for _, t := range tools {
		b.ReportMetric(float64(t.time.Microseconds())/n/1000, t.name+"-version-ms")
		b.ReportMetric(float64(t.peak)/(1<<20), t.name+"-peak-MiB")
	}
}

// BenchmarkPipelineInProcess is the compile and render work alone, without
// process start-up: the part envgen's own code controls.
func BenchmarkPipelineInProcess(b *testing.B) {
	input := filepath.Join("..", "examples", example, "envgen.cue")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r, err := pipeline.Load(input, compiler.Options{})
		if err != nil {
			b.Fatal(err)
		}
		built, err := r.Render("ci")
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		out.Write(built.YAML)
	}
}
