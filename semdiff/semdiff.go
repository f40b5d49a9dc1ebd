// Package semdiff compares rendered Kubernetes objects field by field: the
// review view of `envgen diff`, which tells a reviewer "this change raises
// production replicas from 8 to 10 and touches nothing in CI" without the
// noise of key order or formatting.
package semdiff

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/rogpeppe/go-internal/diff"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/internal/termsafe"
)

// Change is one difference.
type Change struct {
	Environment string `json:"environment"`
	// Object is Kind/name.
	Object string `json:"object"`
	// Kind is "added", "removed" or "changed"; for a whole object added or
	// removed, Path is empty.
	Kind string `json:"change"`
	Path string `json:"path,omitempty"`
	Old  any    `json:"old,omitempty"`
	New  any    `json:"new,omitempty"`
	// Note says more of the new value: where a pinned digest came from.
	Note string `json:"note,omitempty"`
}

// Objects compares the objects of one environment before and after.
func Objects(env string, before, after []map[string]any) []Change {
	index := func(objs []map[string]any) (map[string]map[string]any, []string) {
		m := map[string]map[string]any{}
		var order []string
		for _, o := range objs {
			id := objectID(o)
			m[id] = o
			order = append(order, id)
		}
		return m, order
	}
	old, oldOrder := index(before)
	cur, curOrder := index(after)
	var changes []Change
	for _, id := range curOrder {
		if _, ok := old[id]; !ok {
			changes = append(changes, Change{Environment: env, Object: id, Kind: "added"})
			continue
		}
		for _, c := range values("", old[id], cur[id]) {
			c.Environment, c.Object = env, id
			changes = append(changes, c)
		}
	}
	for _, id := range oldOrder {
		if _, ok := cur[id]; !ok {
			changes = append(changes, Change{Environment: env, Object: id, Kind: "removed"})
		}
	}
	return redacted(changes)
}

func objectID(o map[string]any) string {
	kind, _ := o["kind"].(string)
	meta, _ := o["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	return kind + "/" + name
}

// Values compares two JSON-like values (maps, lists, scalars) under path.
func Values(path string, a, b any) []Change { return redacted(values(path, a, b)) }

// redacted hides in changes what a diff never prints (Redact).
func redacted(changes []Change) []Change {
	for i, c := range changes {
		if c.Old != nil {
			changes[i].Old = Redact(c.Path, c.Old)
		}
		if c.New != nil {
			changes[i].New = Redact(c.Path, c.New)
		}
	}
	return changes
}

// values compares two values at path.
func values(path string, a, b any) []Change {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			return maps(path, av, bv)
		}
	case []any:
		if bv, ok := b.([]any); ok {
			return lists(path, av, bv)
		}
	}
	if equal(a, b) {
		return nil
	}
	return []Change{{Kind: "changed", Path: path, Old: a, New: b}}
}

func maps(path string, a, b map[string]any) []Change {
	var changes []Change
	for _, k := range sorted.UnionKeys(a, b) {
		p := join(path, k)
		av, inA := a[k]
		bv, inB := b[k]
		switch {
		case !inA:
			changes = append(changes, Change{Kind: "added", Path: p, New: bv})
		case !inB:
			changes = append(changes, Change{Kind: "removed", Path: p, Old: av})
		default:
			changes = append(changes, values(p, av, bv)...)
		}
	}
	return changes
}

// lists compares lists of named items (containers, env, ports) by name, so
// that an insertion reads as one added item, not as every later item
// changed; other lists are compared by position.
func lists(path string, a, b []any) []Change {
	if named(a) && named(b) {
		am, bm := byName(a), byName(b)
		var changes []Change
		for _, item := range b {
			n := nameOf(item)
			p := fmt.Sprintf("%s[name=%s]", path, n)
			if old, ok := am[n]; ok {
				changes = append(changes, values(p, old, item)...)
			} else {
				changes = append(changes, Change{Kind: "added", Path: p, New: item})
			}
		}
		for _, item := range a {
			if _, ok := bm[nameOf(item)]; !ok {
				changes = append(changes, Change{Kind: "removed", Path: fmt.Sprintf("%s[name=%s]", path, nameOf(item)), Old: item})
			}
		}
		return changes
	}
	if len(a) != len(b) {
		return []Change{{Kind: "changed", Path: path, Old: a, New: b}}
	}
	var changes []Change
	for i := range a {
		changes = append(changes, values(fmt.Sprintf("%s[%d]", path, i), a[i], b[i])...)
	}
	return changes
}

func named(list []any) bool {
	if len(list) == 0 {
		return false
	}
	seen := map[string]bool{}
	for _, item := range list {
		n := nameOf(item)
		if n == "" || seen[n] {
			return false
		}
		seen[n] = true
	}
	return true
}

func nameOf(item any) string {
	m, _ := item.(map[string]any)
	n, _ := m["name"].(string)
	return n
}

func byName(list []any) map[string]any {
	m := map[string]any{}
	for _, item := range list {
		m[nameOf(item)] = item
	}
	return m
}

func join(path, key string) string {
	if strings.ContainsAny(key, ".[]") {
		key = fmt.Sprintf("[%q]", key)
		return path + key
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func equal(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// Text writes changes grouped by environment and object.
func Text(w io.Writer, changes []Change) {
	env, obj := "", ""
	for _, c := range changes {
		if c.Environment != env {
			fmt.Fprintf(w, "environment %s:\n", c.Environment)
			env, obj = c.Environment, ""
		}
		if c.Path == "" {
			fmt.Fprintf(w, "  %s %s\n", c.Kind, c.Object)
			obj = ""
			continue
		}
		if c.Object != obj {
			fmt.Fprintf(w, "  %s:\n", c.Object)
			obj = c.Object
		}
		switch c.Kind {
		case "added":
			fmt.Fprintf(w, "    + %s: %s\n", c.Path, show(c.New))
		case "removed":
			fmt.Fprintf(w, "    - %s: %s\n", c.Path, show(c.Old))
		default:
			if lines, ok := lineDiff(c.Old, c.New); ok {
				fmt.Fprintf(w, "    ~ %s:\n%s", c.Path, lines)
				break
			}
			fmt.Fprintf(w, "    ~ %s: %s → %s\n", c.Path, show(c.Old), show(c.New))
		}
		if c.Note != "" {
			fmt.Fprintf(w, "      (%s)\n", c.Note)
		}
	}
}

// maxDiffLines bounds the lines of one multi-line value's diff; the rest
// is counted, not shown.
const maxDiffLines = 200

// maxDiffLineWidth bounds each line of such a diff, as show bounds a value.
const maxDiffLineWidth = 200

// lineDiff is the unified diff, with context, of two multi-line strings (a
// config file in a ConfigMap, a script): a changed line shown among its
// neighbours, where two quoted strings cut at 200 characters hid it. ok is
// false unless both are strings and one has more than one line.
func lineDiff(old, new any) (string, bool) {
	a, okA := old.(string)
	b, okB := new.(string)
	if !okA || !okB || (!strings.Contains(a, "\n") && !strings.Contains(b, "\n")) {
		return "", false
	}
	unified := string(diff.Diff("old", []byte(withNewline(a)), "new", []byte(withNewline(b))))
	var out strings.Builder
	shown, rest := 0, 0
	lines := strings.Split(strings.TrimSuffix(unified, "\n"), "\n")
	if len(lines) >= 3 {
		lines = lines[3:] // "diff old new", "--- old", "+++ new": a content line may look like them
	}
	for _, line := range lines {
		if shown == maxDiffLines {
			rest++
			continue
		}
		shown++
		if len(line) > maxDiffLineWidth {
			line = line[:maxDiffLineWidth] + "…"
		}
		fmt.Fprintf(&out, "        %s\n", termsafe.String(line))
	}
	if rest > 0 {
		fmt.Fprintf(&out, "        … %d more lines of diff\n", rest)
	}
	return out.String(), true
}

func withNewline(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

func show(v any) string {
	data, _ := json.Marshal(v)
	s := string(data)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// Markdown writes changes for a review comment (Gerrit, GitHub, GitLab): a
// summary line, then each environment's changes as Text writes them, in a
// fenced block that no backtick in a value can close.
func Markdown(w io.Writer, changes []Change) {
	var envs []string
	byEnv := map[string][]Change{}
	for _, c := range changes {
		if _, seen := byEnv[c.Environment]; !seen {
			envs = append(envs, c.Environment)
		}
		byEnv[c.Environment] = append(byEnv[c.Environment], c)
	}
	if len(changes) == 0 {
		fmt.Fprintln(w, "**envgen diff**: no change to any environment.")
		return
	}
	fmt.Fprintf(w, "**envgen diff**: %d change(s) in %d environment(s): %s.\n", len(changes), len(envs), strings.Join(envs, ", "))
	for _, env := range envs {
		var text strings.Builder
		Text(&text, byEnv[env])
		body := strings.TrimPrefix(text.String(), "environment "+env+":\n")
		fence := strings.Repeat("`", max(3, longestRun(body, '`')+1))
		fmt.Fprintf(w, "\n**%s**\n\n%sdiff\n%s%s\n", env, fence, body, fence)
	}
}

// longestRun is the length of the longest run of r in s.
func longestRun(s string, r rune) int {
	longest, run := 0, 0
	for _, c := range s {
		if c == r {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}
