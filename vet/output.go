package vet

import (
	"envgen.dev/envgen/internal/termsafe"

	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Text writes findings one per line, file:line:col first, as compilers do.
func (r *Report) Text(w io.Writer) {
	for _, s := range r.Suppressed {
		where := ""
		if len(s.Fields) > 0 {
			where = " for " + terminalSafe(strings.Join(s.Fields, ", "))
		}
		if len(s.Environments) > 0 {
			where += " in " + strings.Join(s.Environments, ", ")
		}
		fmt.Fprintf(w, "%s switched off%s: %s\n", s.Rule, where, terminalSafe(s.Reason))
	}
	for _, f := range r.Findings {
		env := ""
		switch {
		case strings.Contains(f.Environment, ", "):
			env = " (in environments " + f.Environment + ")"
		case f.Environment != "":
			env = " (in environment " + f.Environment + ")"
		}
		fmt.Fprintf(w, "%s: %s %s: %s%s: %s\n\tfix: %s\n", f.Position, f.Rule, f.Severity, terminalSafe(f.Field), env, terminalSafe(f.Message), f.Fix)
	}
}

// terminalSafe is termsafe.String: reasons and messages quote envgen.cue.
var terminalSafe = termsafe.String

// JSON writes the report as JSON.
func (r *Report) JSON(w io.Writer) error {
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if r.Suppressed == nil {
		r.Suppressed = []Suppressed{}
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

// SARIF writes the report as SARIF 2.1.0, which code review tools read.
// Switched-off rules appear as suppressed results with their reason.
func (r *Report) SARIF(w io.Writer, version string) error {
	var rules []map[string]any
	for _, rule := range append(append([]Rule{compileRule}, Rules...), invariantRule) {
		rules = append(rules, map[string]any{
			"id":                   rule.ID,
			"shortDescription":     map[string]string{"text": rule.Summary},
			"help":                 map[string]string{"text": rule.Fix},
			"defaultConfiguration": map[string]string{"level": string(rule.Severity)},
		})
	}
	results := []map[string]any{}
	for _, f := range r.Findings {
		results = append(results, map[string]any{
			"ruleId":     f.Rule,
			"level":      string(f.Severity),
			"message":    map[string]string{"text": fmt.Sprintf("%s: %s (fix: %s)", f.Field, f.Message, f.Fix)},
			"locations":  []any{sarifLocation(f.Position)},
			"properties": map[string]string{"environment": f.Environment, "field": f.Field},
		})
	}
	for _, s := range r.Suppressed {
		results = append(results, map[string]any{
			"ruleId":       s.Rule,
			"level":        "none",
			"message":      map[string]string{"text": s.Rule + " is switched off in envgen.cue"},
			"suppressions": []any{map[string]string{"kind": "inSource", "justification": s.Reason}},
		})
	}
	log := map[string]any{
		"$schema": "https://json.schemastore.org/sarif-2.1.0.json",
		"version": "2.1.0",
		"runs": []any{map[string]any{
			"tool":    map[string]any{"driver": map[string]any{"name": "envgen", "version": version, "rules": rules}},
			"results": results,
		}},
	}
	data, err := json.MarshalIndent(log, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

// sarifLocation turns "file:line:col" into a SARIF physical location.
func sarifLocation(position string) map[string]any {
	parts := strings.Split(position, ":")
	region := map[string]int{}
	file := position
	if len(parts) >= 3 {
		line, err1 := strconv.Atoi(parts[len(parts)-2])
		col, err2 := strconv.Atoi(parts[len(parts)-1])
		if err1 == nil && err2 == nil {
			file = strings.Join(parts[:len(parts)-2], ":")
			region["startLine"], region["startColumn"] = line, col
		}
	}
	loc := map[string]any{"artifactLocation": map[string]string{"uri": file}}
	if len(region) > 0 {
		loc["region"] = region
	}
	return map[string]any{"physicalLocation": loc}
}
