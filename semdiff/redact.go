package semdiff

import (
	"strings"

	"envgen.dev/envgen/internal/secretlike"
)

// Hidden stands for a value a diff never prints: a diff is posted where
// many read it (a review comment), and a credential that a change removes
// from envgen.cue would otherwise be published again by the diff that
// shows its removal.
const Hidden = "(not shown: it looks like a credential)"

// Redact is v as envgen may print it at path (a diff, an explanation): every string that carries a
// credential (a password in a URL, a private key) and the value of every
// variable whose name says it is a secret replaced by Hidden.
func Redact(path string, v any) any {
	switch x := v.(type) {
	case string:
		if secretlike.Value(x) || secretVariableValue(path) {
			return Hidden
		}
	case map[string]any:
		name, _ := x["name"].(string)
		out := make(map[string]any, len(x))
		for k, e := range x {
			if _, isString := e.(string); isString && k == "value" && name != "" && secretlike.Name(name) {
				out[k] = Hidden
				continue
			}
			out[k] = Redact(join(path, k), e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Redact(path+"[]", e)
		}
		return out
	}
	return v
}

// secretVariableValue says whether path is the value of an environment
// variable whose name says it is a secret: …env[name=DB_PASS].value.
func secretVariableValue(path string) bool {
	item, ok := strings.CutSuffix(path, "].value")
	if !ok {
		return false
	}
	i := strings.LastIndex(item, "[name=")
	return i >= 0 && secretlike.Name(item[i+len("[name="):])
}
