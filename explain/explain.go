// Package explain maps a field of a generated object back to envgen.cue:
// the value, and every layer that contributed to it (schema default, top
// level, environment override) with its file:line:col. Fields envgen sets
// on its own (the secure defaults) are named as such, with the place in
// envgen's code that decides them.
//
// It runs the data flow backwards: rendered object field → model field
// (the table in fields.go) → CUE value positions (compiler.Sources).
package explain

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/secretlike"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/semdiff"
)

// Explanation says where one field's value comes from.
type Explanation struct {
	Environment string `json:"environment"`
	// Release is the release the object belongs to; "" for the main one.
	Release string `json:"release,omitempty"`
	Object  string `json:"object"`
	Path    string `json:"path"`
	Value   any    `json:"value"`
	// Sources are the envgen.cue fields the value is made from, each with
	// its contributions.
	Sources []Source `json:"sources"`
	// Default says why envgen sets the field when envgen.cue does not.
	Default string `json:"default,omitempty"`
	// Unset, with Default, are the envgen.cue fields that would set the
	// value or change envgen's choice, none of which envgen.cue sets here.
	Unset []string `json:"unset,omitempty"`
	// Built, for the service's image where envgen.cue says how to build
	// it, says that envgen run and envgen image run the image they build
	// instead, and where the build is described.
	Built string `json:"built,omitempty"`
	// Pinned says where a digest that envgen.lock.cue pins came from: the
	// image it was read from, the commit and run of a promotion.
	Pinned string `json:"pinned,omitempty"`
}

// Source is one envgen.cue field behind a value.
type Source struct {
	Field         string                  `json:"field"`
	Contributions []compiler.Contribution `json:"contributions"`
}

// NotFoundError says that the object or the path does not exist.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What }

// Explain explains path (e.g. spec.replicas, or
// spec.template.spec.containers[name=citoid].resources.limits.memory) of
// the object kind/name among objs, the rendered objects of env.
func Explain(project *compiler.Project, env string, objs []map[string]any, object, path string) (*Explanation, error) {
	obj := findObject(objs, object)
	if obj == nil {
		var names []string
		for _, o := range objs {
			names = append(names, objectRef(o))
		}
		return nil, &NotFoundError{What: fmt.Sprintf("no object %s in environment %s (it has: %s)", object, env, strings.Join(names, ", "))}
	}
	steps, err := parsePath(path)
	if err != nil {
		return nil, err
	}
	value, canonical, err := lookup(obj, steps)
	if err != nil {
		what := fmt.Sprintf("%s has no %s: %v", object, path, err)
		if path == "spec.replicas" {
			// An autoscaler owns the count: the Deployment leaves it out,
			// so that an apply does not undo the autoscaler's.
			for _, o := range objs {
				if o["kind"] == "HorizontalPodAutoscaler" && scaleTarget(o) == obj["metadata"].(map[string]any)["name"] {
					what += fmt.Sprintf(" (%s sets the replica count: explain %s spec.minReplicas or spec.maxReplicas)", objectRef(o), objectRef(o))
				}
			}
		}
		return nil, &NotFoundError{What: what}
	}
	e := &Explanation{Environment: env, Object: objectRef(obj), Path: canonical, Value: value}
	// A release's object comes from its release's layers over the
	// environment's.
	scope := env
	if meta, ok := obj["metadata"].(map[string]any); ok {
		labels, _ := meta["labels"].(map[string]any)
		if release, _ := labels[manifests.LabelRelease].(string); release != "" {
			scope, e.Release = compiler.ReleaseScope(env, release), release
		}
	}
	t := mapTarget(project, scope, obj, canonical)
	fields, why := t.cue, t.why
	if f, ok := hatchField(project, env, obj, canonical); ok {
		fields = append([]string{f}, fields...)
	}
	// An image is made of three fields; anything else comes from the most
	// specific field that envgen.cue sets (ci.env.X before env.X).
	// Of an image, the repository comes from the most specific layer that
	// names one, the version (tag or digest) likewise: a stage's tag
	// before ci.tag before tag.
	all := len(fields) > 0 && strings.HasSuffix(fields[0], "image")
	// The value says which of tag and digest is in effect: a later layer's
	// digest (envgen.lock.cue's, say) drops every tag below it.
	byDigest := false
	if ref, ok := value.(string); ok {
		byDigest = strings.Contains(ref, "@sha256:")
	}
	found := map[string]bool{}
	for _, f := range fields {
		part := "version"
		if strings.HasSuffix(f, "image") {
			part = "repository"
		}
		if all && found[part] {
			continue
		}
		if all && (byDigest && strings.HasSuffix(f, "tag") || !byDigest && strings.HasSuffix(f, "digest")) {
			continue
		}
		if c := project.Sources().Contributions(scope, f); len(c) > 0 {
			e.Sources = append(e.Sources, Source{Field: f, Contributions: c})
			found[part] = true
			if !all {
				break
			}
		}
	}
	if all {
		e.Built = builtInstead(project, scope, value)
	}
	for _, src := range e.Sources {
		if last := src.Contributions[len(src.Contributions)-1]; strings.HasPrefix(last.Layer, "pinned for ") {
			e.Pinned = pinnedFrom(project, strings.TrimPrefix(last.Layer, "pinned for "), src.Field)
		}
	}
	if len(e.Sources) == 0 {
		e.Default, e.Unset = why, fields
		if e.Default == "" {
			e.Default = "set by envgen (not from envgen.cue)"
		}
	}
	e.redact()
	return e, nil
}

// redact hides a value that looks like a credential (semdiff.Redact), and
// then every contribution's literal too: explain still says where the
// value comes from, never what it is.
func (e *Explanation) redact() {
	shown := semdiff.Redact(e.Path, e.Value)
	all := !reflect.DeepEqual(shown, e.Value)
	e.Value = shown
	for i, src := range e.Sources {
		// A layer below may give a literal that a later one replaced by
		// a reference: each is judged on its own, by the variable's name
		// and by what it holds.
		parts := strings.Split(src.Field, ".")
		secretName := len(parts) >= 2 && parts[len(parts)-2] == "env" && secretlike.Name(strings.Trim(parts[len(parts)-1], `"`))
		hidden := slices.Clone(src.Contributions)
		for j, c := range hidden {
			if all || secretlike.Value(c.Value) || secretName && !strings.HasPrefix(strings.TrimSpace(c.Value), "{") {
				hidden[j].Value = semdiff.Hidden
			}
		}
		e.Sources[i].Contributions = hidden
	}
}

// builtInstead says, for an image value that is the service's own image
// in an environment with a build section, what envgen run runs instead.
func builtInstead(project *compiler.Project, scope string, value any) string {
	svc, err := project.Environment(scope)
	ref, _ := value.(string)
	if err != nil || svc.Build == nil || !strings.HasPrefix(ref, svc.Image+":") && !strings.HasPrefix(ref, svc.Image+"@") {
		return ""
	}
	target := svc.Build.Target
	if target == "" {
		target = "its last stage"
	}
	return fmt.Sprintf("envgen run and envgen image build this image from the repository (build: at %s; %s, target %s) and run it by the digest they built instead",
		project.Sources().Where(scope, "build"), svc.Build.DockerfilePath(), target)
}

// pinnedFrom says where envgen.lock.cue's pin of field in env came from.
func pinnedFrom(project *compiler.Project, env, field string) string {
	if src, ok := project.Pinned[env][field]; ok {
		return src.String()
	}
	return ""
}

func findObject(objs []map[string]any, ref string) map[string]any {
	for _, o := range objs {
		if strings.EqualFold(objectRef(o), ref) {
			return o
		}
	}
	return nil
}

func objectRef(o map[string]any) string {
	kind, _ := o["kind"].(string)
	meta, _ := o["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	return strings.ToLower(kind) + "/" + name
}

// step is one element of a path: a key, an index, or a list item by name.
type step struct {
	key   string
	index int
	name  string
	kind  byte // 'k', 'i', 'n'
}

var stepPattern = regexp.MustCompile(`^([^.\[\]]+)|^\[(\d+)\]|^\[name=([^\]]+)\]|^\["([^"]+)"\]`)

func parsePath(path string) ([]step, error) {
	var steps []step
	rest := path
	for rest != "" {
		rest = strings.TrimPrefix(rest, ".")
		m := stepPattern.FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("cannot read the path %q at %q", path, rest)
		}
		switch {
		case m[1] != "":
			steps = append(steps, step{key: m[1], kind: 'k'})
		case m[2] != "":
			i, _ := strconv.Atoi(m[2])
			steps = append(steps, step{index: i, kind: 'i'})
		case m[3] != "":
			steps = append(steps, step{name: m[3], kind: 'n'})
		default:
			steps = append(steps, step{key: m[4], kind: 'k'})
		}
		rest = rest[len(m[0]):]
	}
	return steps, nil
}

// lookup follows steps and returns the value and the path in canonical
// form: list items by name where they have one.
func lookup(obj any, steps []step) (any, string, error) {
	cur := obj
	var canonical strings.Builder
	for _, s := range steps {
		switch s.kind {
		case 'k':
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, "", fmt.Errorf("%q is not a map", canonical.String())
			}
			if cur, ok = m[s.key]; !ok {
				return nil, "", fmt.Errorf("no field %q", s.key)
			}
			if canonical.Len() > 0 {
				canonical.WriteByte('.')
			}
			if strings.ContainsAny(s.key, ".[]") {
				fmt.Fprintf(&canonical, "[%q]", s.key)
			} else {
				canonical.WriteString(s.key)
			}
		default:
			list, ok := cur.([]any)
			if !ok {
				return nil, "", fmt.Errorf("%q is not a list", canonical.String())
			}
			item, found := any(nil), false
			for i, it := range list {
				if (s.kind == 'i' && i == s.index) || (s.kind == 'n' && nameOf(it) == s.name) {
					item, found = it, true
					break
				}
			}
			if !found {
				return nil, "", fmt.Errorf("no item %v in %q", describe(s), canonical.String())
			}
			cur = item
			if n := nameOf(item); n != "" {
				fmt.Fprintf(&canonical, "[name=%s]", n)
			} else {
				fmt.Fprintf(&canonical, "[%d]", s.index)
			}
		}
	}
	return cur, canonical.String(), nil
}

func describe(s step) string {
	if s.kind == 'n' {
		return "name=" + s.name
	}
	return strconv.Itoa(s.index)
}

func nameOf(v any) string {
	m, _ := v.(map[string]any)
	n, _ := m["name"].(string)
	return n
}

// Text renders an explanation for people.
func (e *Explanation) Text() string {
	var b strings.Builder
	value, _ := json.Marshal(e.Value)
	where := "environment " + e.Environment
	if e.Release != "" {
		where += ", release " + e.Release
	}
	fmt.Fprintf(&b, "%s %s (%s) = %s\n", e.Object, e.Path, where, value)
	if e.Default != "" {
		fmt.Fprintf(&b, "  %s\n", e.Default)
	}
	if e.Built != "" {
		fmt.Fprintf(&b, "  %s\n", e.Built)
	}
	if e.Pinned != "" {
		fmt.Fprintf(&b, "  %s\n", e.Pinned)
	}
	for _, s := range e.Sources {
		fmt.Fprintf(&b, "  from %s:\n", s.Field)
		// Structs merge field by field: every layer's part is in effect.
		merged := len(s.Contributions) > 1 && compiler.MergesFieldByField(s.Field)
		for i, c := range s.Contributions {
			mark := "overridden"
			switch {
			case merged && strings.HasPrefix(c.Value, "{"):
				mark = "merged"
			case i == len(s.Contributions)-1:
				mark = "in effect"
			}
			fmt.Fprintf(&b, "    %-34s %-28s %s (%s)\n", c.Position, c.Layer, c.Value, mark)
		}
	}
	return b.String()
}

// scaleTarget is the name of what an autoscaler scales.
func scaleTarget(hpa map[string]any) string {
	spec, _ := hpa["spec"].(map[string]any)
	ref, _ := spec["scaleTargetRef"].(map[string]any)
	name, _ := ref["name"].(string)
	return name
}
