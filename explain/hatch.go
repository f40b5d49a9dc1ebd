package explain

import (
	"fmt"

	"envgen.dev/envgen/compiler"
)

// hatchField is the field of envgen.cue's patches or objects that sets
// the path (canonical, as lookup returns it) of obj, if one does: a
// patched field comes from the patch first, every field of an added
// object from the object.
func hatchField(project *compiler.Project, env string, obj map[string]any, canonical string) (string, bool) {
	s, err := project.Environment(env)
	if err != nil {
		return "", false
	}
	kind, _ := obj["kind"].(string)
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	key := kind + "/" + name
	section, data := "objects", s.Objects[key]
	if data == nil {
		section, data = "patches", s.Patches[key]
	}
	if data == nil {
		return "", false
	}
	steps, err := parsePath(canonical)
	if err != nil {
		return "", false
	}
	field := fmt.Sprintf("%s.%q", section, key)
	var current any = data
	for _, st := range steps {
		switch st.kind {
		case 'k':
			m, _ := current.(map[string]any)
			v, ok := m[st.key]
			if !ok {
				return "", false
			}
			field += "." + compiler.Label(st.key)
			current = v
		case 'i', 'n':
			list, _ := current.([]any)
			i := st.index
			if st.kind == 'n' {
				i = indexByName(list, st.name)
			}
			if i < 0 || i >= len(list) {
				return "", false
			}
			field += fmt.Sprintf("[%d]", i)
			current = list[i]
		}
	}
	return field, true
}

func indexByName(list []any, name string) int {
	for i, item := range list {
		if m, ok := item.(map[string]any); ok && m["name"] == name {
			return i
		}
	}
	return -1
}
