package compiler_test

import (
	"fmt"
	"strings"
	"testing"

	"envgen.dev/envgen/compiler"
)

// TestExpansionIsBoundedBeforeEvaluation: what multiplies the cost of a
// small file — releases running in many environments, a big top level
// evaluated in every environment — is refused at the field that
// multiplies it, while a file just under the bounds compiles.
func TestExpansionIsBoundedBeforeEvaluation(t *testing.T) {
	// entries writes section with n entries, each entry(i).
	entries := func(section string, n int, entry func(i int) string) string {
		var s strings.Builder
		s.WriteString(section + ": {\n")
		for i := range n {
			s.WriteString("\t" + entry(i) + "\n")
		}
		return s.String() + "}\n"
	}
	environments := func(n int) string {
		return entries("environments", n, func(i int) string { return fmt.Sprintf(`"dc-%d": extends: "production"`, i) })
	}
	releases := func(n int) string {
		return entries("releases", n, func(i int) string { return fmt.Sprintf(`"r%d": environments: ["production"]`, i) })
	}
	variables := func(n int) string {
		var s strings.Builder
		s.WriteString("env: {\n")
		for i := range n {
			fmt.Fprintf(&s, "\tV%d: \"%d\"\n", i, i)
		}
		s.WriteString("}\ncontainers: {\n")
		for c := range 9 {
			fmt.Fprintf(&s, "\tc%d: {image: \"registry.example.org/c\", tag: \"1\", env: {\n", c)
			for i := range n {
				fmt.Fprintf(&s, "\t\tV%d: \"%d\"\n", i, i)
			}
			s.WriteString("\t}}\n")
		}
		return s.String() + "}\n"
	}
	tests := []struct {
		desc, src string
		want      string // "" compiles
	}{{
		// 4 standard environments, 16 extending production, the top
		// level: 21 instances, and 4 releases in 17 environments each.
		desc: "releases under the bound",
		src:  environments(16) + releases(4),
	}, {
		desc: "releases in every environment that extends theirs",
		src:  environments(30) + releases(3),
		want: "envgen.cue:%d:11: releases: 34 environments and their releases make 128 instances of the service, more than 100",
	}, {
		// 10 × 480 variables evaluated by 5 instances: 24,000.
		desc: "a big top level in the standard environments",
		src:  variables(480),
	}, {
		// The same in 11 instances: 53,000 fields.
		desc: "a big top level in many environments",
		src:  variables(480) + environments(6),
		want: "envgen.cue: 11 instances of the service (the top level, 10 environments and their releases) evaluate",
	}}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			src := header + tc.src
			_, err := compiler.Compile("envgen.cue", []byte(src), compiler.Options{Environments: []string{"ci"}})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("compile: %v", err)
				}
				return
			}
			want := tc.want
			if strings.Contains(want, "%d") {
				want = fmt.Sprintf(want, strings.Count(src[:strings.Index(src, "releases:")], "\n")+1)
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v\nwant %s…", err, want)
			}
		})
	}
}
