package casegen

import (
	"encoding/json"
	"sort"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"

	"envgen.dev/envgen/schema"
)

// patternFields are the fields under the schema's maps keyed by user
// names ([#Name]: #EgressRule…). CUE's API does not reach into an optional
// field's pattern constraints, so these are listed here; everything else
// is read from the schema.
var patternFields = []string{
	"env.*", "env.*.secret", "env.*.configMap", "env.*.key",
	"ports.*", "files.*", "annotations.*",
	"ingress.*", "ingress.*.undeclaredPorts", "ingress.*.undeclaredPorts.*", "egress.*", "egress.*.cidrs", "egress.*.namespaces", "egress.*.ports", "egress.*.protocol",
	"ci.env.*", "ci.annotations.*", "ci.services.*",
	"ci.services.*.image", "ci.services.*.tag", "ci.services.*.digest", "ci.services.*.command",
	"ci.services.*.args", "ci.services.*.ports", "ci.services.*.env", "ci.services.*.resources",
	"ci.services.*.readiness", "ci.services.*.securityContext",
	"writable.*", "writable.*.sizeLimit", "writable.*.memory", "ci.services.*.writable", "ci.services.*.writableRoot", "containers.*.writableRoot",
	"containers", "containers.*", "containers.*.kind", "containers.*.image", "containers.*.tag",
	"containers.*.digest", "containers.*.command", "containers.*.args", "containers.*.ports",
	"containers.*.env", "containers.*.resources", "containers.*.probes", "containers.*.writable",
	"containers.*.mounts", "containers.*.files", "containers.*.securityContext", "containers.*.preStop", "containers.*.inJobs",
	"patches.*", "objects.*", "build.args.*",
	"fileSecrets.*", "fileSecrets.*.*", "fileSecrets.*.*.secret", "fileSecrets.*.*.key", "labels.*",
}

// SchemaFields lists every field path of the schema's #Settings (what the
// top level and each environment may set), read from the embedded schema
// itself: a field added there and not to the generator fails the coverage
// test. Map keys chosen by the user are "*"; paths are dot-separated.
func SchemaFields() []string {
	ctx := cuecontext.New()
	s, err := schema.Build(ctx)
	if err != nil {
		panic(err)
	}
	set := map[string]bool{}
	walkSchema(s.LookupPath(cue.ParsePath("#Settings")), "", set, 0)
	for _, f := range patternFields {
		set[f] = true
	}
	return sortedSet(set)
}

func walkSchema(v cue.Value, prefix string, out map[string]bool, depth int) {
	if depth > 8 {
		return
	}
	// A disjunction (a literal or a reference: #EnvValue) is walked in each
	// of its struct branches.
	if op, parts := v.Expr(); op == cue.OrOp || op == cue.AndOp {
		for _, p := range parts {
			walkSchema(p, prefix, out, depth+1)
		}
		return
	}
	if v.IncompleteKind()&cue.StructKind == 0 {
		return
	}
	if pattern := v.LookupPath(cue.MakePath(cue.AnyString)); pattern.Exists() {
		p := join(prefix, "*")
		out[p] = true
		walkSchema(pattern, p, out, depth+1)
	}
	iter, err := v.Fields(cue.Optional(true))
	if err != nil {
		return
	}
	for iter.Next() {
		p := join(prefix, iter.Selector().Unquoted())
		out[p] = true
		walkSchema(iter.Value(), p, out, depth+1)
	}
}

// Fields lists the field paths a case sets, as "top:<path>" for the top
// level and "env:<path>" for any environment, with map keys as "*" where
// the schema has a pattern.
func Fields(c Case) []string {
	// The tree through JSON, as Source has it: numbers as float64.
	data, err := json.Marshal(c.tree)
	if err != nil {
		panic(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		panic(err)
	}
	schemaFields := map[string]bool{}
	for _, f := range SchemaFields() {
		schemaFields[f] = true
	}
	set := map[string]bool{}
	walkCase(doc, "", "top:", schemaFields, set)
	envs, _ := doc["environments"].(map[string]any)
	for _, e := range envs {
		if m, ok := e.(map[string]any); ok {
			walkCase(m, "", "env:", schemaFields, set)
		}
	}
	releases, _ := doc["releases"].(map[string]any)
	for _, r := range releases {
		if m, ok := r.(map[string]any); ok {
			walkCase(m, "", "release:", schemaFields, set)
			for _, own := range []string{"environments", "traffic", "in"} { // #Release's, not #Settings
				if _, ok := m[own]; ok {
					set["release:"+own] = true
				}
			}
		}
	}
	return sortedSet(set)
}

func walkCase(m map[string]any, prefix, layer string, schemaFields, out map[string]bool) {
	for k, v := range m {
		p := join(prefix, k)
		if !schemaFields[p] {
			p = join(prefix, "*")
			if !schemaFields[p] {
				continue // environments, vet, name: not #Settings
			}
		}
		out[layer+p] = true
		if sub, ok := v.(map[string]any); ok {
			walkCase(sub, p, layer, schemaFields, out)
		}
	}
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func sortedSet(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
