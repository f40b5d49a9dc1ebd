package scaffold_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/scaffold"
	"envgen.dev/envgen/vet"
)

// TestFirstFilesPassVet writes first envgen.cue files for generated
// services — names made of odd directory names, one to five ports, http
// or tcp probes, tags or digests, commands with characters CUE quotes —
// and wants each to compile and pass vet with no finding: what init
// promises.
func TestFirstFilesPassVet(t *testing.T) {
	r := rand.New(rand.NewPCG(20261205, 1))
	dirs := []string{"Hello World", "svc_2", "x", "über-service", "a--b", strings.Repeat("long", 15), "api.v2"}
	for i := range 200 {
		s := scaffold.Service{
			Name:    scaffold.NameFrom(dirs[r.IntN(len(dirs))]),
			Image:   "registry.example.org/team/svc",
			Command: []string{"sh", "-c", `echo "quoted \ and ${VAR}"` + fmt.Sprint(i)},
		}
		if r.IntN(2) == 0 {
			s.Tag = fmt.Sprintf("1.%d", i)
		} else {
			s.Digest = "sha256:" + strings.Repeat("ab", 32)
		}
		if r.IntN(2) == 0 {
			s.HealthPath = "/healthz"
		}
		for p := range 1 + r.IntN(5) {
			name := "http"
			if p > 0 {
				name = fmt.Sprintf("port-%d", 9000+p)
			}
			s.Ports = append(s.Ports, scaffold.Port{Name: name, Number: 8000 + p})
		}
		src, err := scaffold.EnvgenCUE(s)
		if err != nil {
			t.Fatalf("%+v: %v", s, err)
		}
		project, err := compiler.Compile("envgen.cue", src, compiler.Options{})
		if err != nil {
			t.Fatalf("%+v: %v\n%s", s, err, src)
		}
		if report := vet.Check(project); len(report.Findings) > 0 {
			t.Fatalf("%+v: %s %s: %s\n%s", s, report.Findings[0].Rule, report.Findings[0].Field, report.Findings[0].Message, src)
		}
	}
}

func TestNameFrom(t *testing.T) {
	for dir, want := range map[string]string{
		"Hello World": "hello-world", "svc_2": "svc-2", "123": "", "9lives": "lives",
		"über-service": "ber-service", "--x--": "x", strings.Repeat("a", 50): strings.Repeat("a", 40),
	} {
		if got := scaffold.NameFrom(dir); got != want {
			t.Errorf("NameFrom(%q) = %q, want %q", dir, got, want)
		}
	}
}
