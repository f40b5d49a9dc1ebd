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
	return envInput(b, vars, envs, func(s *strings.Builder, e int) {
		fmt.Fprintf(s, "\t\"env-%d\": env: {\n", e)
		for i := range vars {
			fmt.Fprintf(s, "\t\tV%d: \"v%d-%d\"\n", i, e, i)
		}
		s.WriteString("\t}\n")
	})
}

// envInput writes an envgen.cue with vars variables at the top level and
// envs environments, each written by env, and returns its path.
func envInput(b *testing.B, vars, envs int, env func(s *strings.Builder, e int)) string {
	var s strings.Builder
	s.WriteString("name: \"svc\"\nimage: \"registry.example.org/svc\"\ntag: \"1.0\"\nci: command: [\"make\", \"test\"]\nenv: {\n")
	for i := range vars {
		fmt.Fprintf(&s, "\tV%d: \"value %d\"\n", i, i)
	}
	s.WriteString("}\nenvironments: {\n")
	for e := range envs {
		env(&s, e)
	}
	s.WriteString("}\n")
	path := filepath.Join(b.TempDir(), "envgen.cue")
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

// worstShapeInput writes an envgen.cue at the shape that multiplies the
// per-map limits the most: ten containers (the service and nine others),
// each with vars variables, evaluated in every environment — dcs
// environments that extend production, and releases that run in
// production and so in each of them too.
func worstShapeInput(b *testing.B, vars, dcs, releases int) string {
	digest := "sha256:" + strings.Repeat("a", 64)
	var s strings.Builder
	fmt.Fprintf(&s, `name: "svc"
image: "registry.example.org/svc"
digest: %q
ports: http: 8080
resources: {requests: {cpu: "100m", memory: "100Mi"}, limits: {cpu: "1", memory: "200Mi"}}
replicas: 2
disruptionBudget: maxUnavailable: 1
probes: readiness: http: {path: "/", port: "http"}
ci: {command: ["make", "test"], timeout: "10m"}
`, digest)
	variables := func(indent string) {
		for i := range vars {
			fmt.Fprintf(&s, "%sV%d: \"value %d\"\n", indent, i, i)
		}
	}
	s.WriteString("env: {\n")
	variables("\t")
	s.WriteString("}\ncontainers: {\n")
	for c := range 9 {
		fmt.Fprintf(&s, "\tc%d: {image: \"registry.example.org/c%d\", digest: %q, resources: {requests: {cpu: \"10m\", memory: \"10Mi\"}, limits: {cpu: \"100m\", memory: \"50Mi\"}}, env: {\n", c, c, digest)
		variables("\t\t")
		s.WriteString("\t}}\n")
	}
	s.WriteString("}\nenvironments: {\n")
	for e := range dcs {
		fmt.Fprintf(&s, "\t\"dc-%d\": {extends: \"production\", replicas: 3}\n", e)
	}
	s.WriteString("}\n")
	for r := range releases {
		fmt.Fprintf(&s, "releases: r%d: {environments: [\"production\"], replicas: 1, env: R: \"%d\"}\n", r, r)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "envgen.cue"), []byte(s.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// longListInput writes an envgen.cue with vars variables and envs
// environments that each change one of them: the shape where kustomize's
// strategic merge is quadratic in the list (every overlay walks all of
// env), and JSON patches are not.
func longListInput(b *testing.B, vars, envs int) string {
	path := envInput(b, vars, envs, func(s *strings.Builder, e int) {
		fmt.Fprintf(s, "\t\"env-%d\": env: V%d: \"changed\"\n", e, e%vars)
	})
	return filepath.Dir(path)
}

// BenchmarkLimitsGenerate measures `envgen generate` at the worst shapes
// the limits allow — the most instances of the service (environments ×
// releases, compiler.MaxInstances) and the most fields evaluated over them
// (compiler.MaxExpandedFields) — against stock `kustomize build` of every
// overlay it writes, which is what applying them all costs a user; and at
// the longest lists (500 variables, the per-map limit, and half of it), where
// the time per overlay must grow with the list, not with its square.
func BenchmarkLimitsGenerate(b *testing.B) {
	envgen, kustomize := binary(b, "envgen"), binary(b, "kustomize")
	buildMaxRSS(b)
	for _, tc := range []struct {
		name                string
		vars, dcs, releases int
		longList            bool
	}{
		{"instances-97", 1, 46, 1, false}, {"fields-24k", 230, 5, 0, false},
		{"list-250x19", 250, 19, 0, true}, {"list-500x19", 500, 19, 0, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dir := worstShapeInput(b, tc.vars, tc.dcs, tc.releases)
			if tc.longList {
				dir = longListInput(b, tc.vars, tc.dcs)
			}
			var generate, stock time.Duration
			var peak int64
			for i := 0; i < b.N; i++ {
				d, p := run(b, envgen, "generate", "--allow-findings", dir)
				generate += d
				peak = max(peak, p)
				overlays, _ := filepath.Glob(filepath.Join(dir, "deploy", "overlays", "*"))
				for _, overlay := range overlays {
					d, _ := run(b, kustomize, "build", overlay)
					stock += d
				}
			}
			n := float64(b.N)
			b.ReportMetric(float64(generate.Milliseconds())/n, "generate-ms/op")
			b.ReportMetric(float64(peak)/(1<<20), "generate-peak-MiB")
			b.ReportMetric(float64(stock.Milliseconds())/n, "kustomize-all-overlays-ms/op")
			b.ReportMetric(float64(generate)/float64(stock), "envgen/stock")
		})
	}
}
