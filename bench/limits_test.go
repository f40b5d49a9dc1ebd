package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"envgen.dev/envgen/compiler"
)

// limitsInput writes an envgen.cue with vars variables at the top level
// and envs custom environments that each override every one of them:
// (envs+1)·vars fields, the shape that multiplies the per-map limits.
func limitsInput(b *testing.B, vars, envs int) string {
	var s strings.Builder
	s.WriteString("name: \"svc\"\nimage: \"registry.example.org/svc\"\ntag: \"1.0\"\nci: command: [\"make\", \"test\"]\nenv: {\n")
	for i := range vars {
		fmt.Fprintf(&s, "\tV%d: \"value %d\"\n", i, i)
	}
	s.WriteString("}\nenvironments: {\n")
	for e := range envs {
		fmt.Fprintf(&s, "\t\"env-%d\": env: {\n", e)
		for i := range vars {
			fmt.Fprintf(&s, "\t\tV%d: \"v%d-%d\"\n", i, e, i)
		}
		s.WriteString("\t}\n")
	}
	s.WriteString("}\n")
	dir := b.TempDir()
	path := filepath.Join(dir, "envgen.cue")
	if err := os.WriteFile(path, []byte(s.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkLimits measures compile time and the whole `envgen build --env
// ci` (time and peak memory of the process) at 1×, 2× and 4× the
// variables, 4× being at the field limit, and with the most environments
// (target: ≤ 1 s and ≤ 150 MiB at the limits, growing linearly).
func BenchmarkLimits(b *testing.B) {
	envgen := binary(b, "envgen")
	buildMaxRSS(b)
	for _, tc := range []struct {
		name       string
		vars, envs int
	}{
		{"vars-1x", 120, 19}, {"vars-2x", 240, 19}, {"vars-4x", 480, 19}, {"envs-50", 190, 50 - 4 - 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			input := limitsInput(b, tc.vars, tc.envs)
			src, _ := os.ReadFile(input)
			var compile, whole time.Duration
			var peak int64
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if _, err := compiler.Compile(input, src, compiler.Options{Environments: []string{"ci"}}); err != nil {
					b.Fatal(err)
				}
				compile += time.Since(start)
				d, p := run(b, envgen, "build", "--env", "ci", input)
				whole += d
				peak = max(peak, p)
			}
			n := float64(b.N)
			b.ReportMetric(float64((tc.envs+1)*tc.vars), "fields")
			b.ReportMetric(float64(compile.Milliseconds())/n, "compile-ms/op")
			b.ReportMetric(float64(whole.Milliseconds())/n, "build-ms/op")
			b.ReportMetric(float64(peak)/(1<<20), "build-peak-MiB")
		})
	}
}
