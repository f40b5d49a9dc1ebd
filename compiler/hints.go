package compiler

// Hints for the mistakes a newcomer makes first: a field CUE does not
// know (a misspelling, Kubernetes' own name for it, a relative file
// path), a string where a list of arguments goes, a number where a
// quantity string goes. CUE's message stays; the hint says what to write.

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
)

// kubernetesNames are Kubernetes' names for what envgen.cue says
// otherwise, by the field a Deployment or Pod manifest would have.
var kubernetesNames = map[string]string{
	"httpGet":        "http: {path, port}",
	"tcpSocket":      "tcp: port: …",
	"readinessProbe": "probes: readiness: …",
	"livenessProbe":  "probes: liveness: …",
	"startupProbe":   "probes: startup: …",
	"containerPort":  "ports: {<name>: <number>}",
	"envFrom":        "env: {<NAME>: {secret: <name>, key: <key>}}, one variable per key",
	"lifecycle":      "preStop: …",
	"nodeSelector":   "scheduling: nodeSelector: …",
	"tolerations":    "scheduling: tolerations: […]",
	"volumeMounts":   "mounts (a Secret or ConfigMap), files (envgen.cue's own) or writable (an emptyDir)",
	"volumes":        "mounts (a Secret or ConfigMap), files (envgen.cue's own) or writable (an emptyDir)",
	"args":           "args, beside command",
}

// pathKeyed are the maps whose keys are absolute paths in the container.
var pathKeyed = map[string]bool{"files": true, "mounts": true, "writable": true}

// notAllowedHint says what an unknown field was probably meant to be, or
// "" when nothing is close: Kubernetes' name for an envgen field, a
// relative path where an absolute one goes, or the allowed field at the
// smallest edit distance ("did you mean environments?").
func (c *compilation) notAllowedHint(field string) string {
	path := cue.ParsePath(field)
	if path.Err() != nil {
		return ""
	}
	selectors := path.Selectors()
	if len(selectors) == 0 {
		return ""
	}
	name := selectors[len(selectors)-1].Unquoted()
	if len(selectors) >= 2 && pathKeyed[selectors[len(selectors)-2].Unquoted()] && !strings.HasPrefix(name, "/") {
		return fmt.Sprintf("keys of %s are absolute paths in the container: %q", selectors[len(selectors)-2].Unquoted(), "/etc/app/"+name)
	}
	if alias, ok := kubernetesNames[name]; ok && name != "args" {
		return "envgen.cue says " + alias
	}
	if c.sources == nil || !c.sources.top.Exists() {
		return ""
	}
	parent := selectors[:len(selectors)-1]
	allowed := fieldNames(c.sources.top.LookupPath(cue.MakePath(parent...)), name)
	if len(allowed) == 0 && c.schema.Exists() {
		// Under a field that may also be null (resources: #Resources |
		// null), the user's value has their fields only: ask the schema's
		// #Settings, in an environment's or a release's layer too.
		if len(parent) >= 2 && (parent[0].Unquoted() == "environments" || parent[0].Unquoted() == "releases") {
			parent = parent[2:]
		}
		allowed = fieldNames(structBranch(c.schema.LookupPath(cue.ParsePath("#Settings")), parent), name)
	}
	if best := closest(name, allowed); best != "" {
		return "did you mean " + best + "?"
	}
	return ""
}

// closest is the name in candidates nearest to name by edit distance, if
// near enough to be a misspelling of it (at most a third of its letters,
// at least one); "" otherwise.
func closest(name string, candidates []string) string {
	// Bounded: the names come from the file under review, and the
	// distance costs their lengths' product (two 30,000-byte names took
	// 10 s). Field names of the schema are short.
	const maxName = 64
	if len(name) > maxName {
		return ""
	}
	best, bestDistance := "", max(1, len(name)/3)+1
	for _, candidate := range candidates {
		if len(candidate) > maxName || abs(len(candidate)-len(name)) >= bestDistance {
			continue
		}
		if d := editDistance(strings.ToLower(name), strings.ToLower(candidate)); d < bestDistance {
			best, bestDistance = candidate, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

var (
	stringForListMsg  = regexp.MustCompile(`^conflicting values ("(?:[^"\\]|\\.)*") and \[.*\] \(mismatched types string and list\)$`)
	numberQuantityMsg = regexp.MustCompile(`^conflicting values (-?[0-9][0-9.eE+-]*) and =~.* \(mismatched types (?:int|float) and string\)$`)
)

// typeHint rewrites CUE's account of a value of the wrong kind where the
// right one is easy to say: a command line as one string, a quantity as a
// number, ports as a list. msg is returned as it was otherwise.
func typeHint(field, msg string) string {
	if m := stringForListMsg.FindStringSubmatch(msg); m != nil {
		s, err := strconv.Unquote(m[1])
		if err != nil {
			return msg
		}
		args := make([]string, 0)
		for _, a := range strings.Fields(s) {
			args = append(args, strconv.Quote(a))
		}
		return fmt.Sprintf("expected a list of arguments, not the string %s: [%s] (no shell splits it; for a pipeline, [\"sh\", \"-c\", …])", m[1], strings.Join(args, ", "))
	}
	if m := numberQuantityMsg.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s is a number: a quantity is a string, %q (\"100m\", \"0.5\", \"512Mi\")", m[1], m[1])
	}
	last := field[strings.LastIndex(field, ".")+1:]
	if last == "ports" && strings.HasPrefix(msg, "expected a struct ({…}), not the list") {
		return msg + ": ports map names to numbers, ports: {http: 8080, metrics: 9102}"
	}
	return msg
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// structBranch looks up the path one selector at a time, going into the
// struct branch of a field that may also be null (resources: #Resources |
// null): the value CUE resolves there has the user's fields only, not the
// schema's optional ones a hint chooses from.
func structBranch(v cue.Value, selectors []cue.Selector) cue.Value {
	for _, sel := range selectors {
		if op, parts := v.Expr(); op == cue.OrOp {
			for _, p := range parts {
				if p.IncompleteKind()&cue.StructKind != 0 {
					v = p
					break
				}
			}
		}
		next := v.LookupPath(cue.MakePath(sel))
		if !next.Exists() && sel.Type() == cue.StringLabel {
			next = v.LookupPath(cue.MakePath(sel.Optional())) // a schema's optional field
		}
		v = next
	}
	return v
}

// fieldNames lists the fields v may have (optional ones too), but name.
func fieldNames(v cue.Value, name string) []string {
	iter, err := v.Fields(cue.Optional(true))
	if err != nil {
		return nil
	}
	var out []string
	for iter.Next() {
		if other := iter.Selector().Unquoted(); other != name {
			out = append(out, other)
		}
	}
	return out
}
