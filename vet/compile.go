package vet

import (
	"regexp"
	"strings"

	"envgen.dev/envgen/compiler"
)

// compileRule is the finding of an envgen.cue that does not compile: the
// policies cannot be checked, and a tool reading JSON or SARIF still gets
// a document that says why, at the position the compiler names.
var compileRule = Rule{
	ID: "EG000", Severity: Error, Summary: "envgen.cue compiles",
	Fix: "correct envgen.cue where the message points; envgen build shows the same error",
}

// positioned is a compiler message line: "envgen.cue:4:1: field: message".
var positioned = regexp.MustCompile(`^(.+?:\d+:\d+): (.*)$`)

// fieldFirst splits "field.path: message"; a label in quotes may hold
// ": " and spaces (files."a: b").
var fieldFirst = regexp.MustCompile(`^((?:[^\s":]|"(?:[^"\\]|\\.)*")+): (.*)$`)

// CompileErrorReport turns the compiler's refusal of envgen.cue into a
// report of EG000 findings, one per positioned message (the lines after
// one, an explanation, are part of its message). A message without a
// position is placed at file, which names envgen.cue.
func CompileErrorReport(err *compiler.InputError, file string) *Report {
	r := &Report{Findings: []Finding{}, Suppressed: []Suppressed{}}
	for _, line := range err.Lines {
		m := positioned.FindStringSubmatch(line)
		if m == nil && len(r.Findings) > 0 {
			last := &r.Findings[len(r.Findings)-1]
			last.Message += "\n" + strings.TrimSpace(line)
			continue
		}
		position, text := file, line
		if m != nil {
			position, text = m[1], m[2]
		}
		field, message := "", text
		if m := fieldFirst.FindStringSubmatch(text); m != nil {
			field, message = m[1], m[2]
		}
		r.Findings = append(r.Findings, Finding{Rule: compileRule.ID, Severity: Error, Field: field, Position: position, Message: message, Fix: compileRule.Fix})
	}
	return r
}
