package semdiff

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNamedListInsertionIsOneChange(t *testing.T) {
	obj := func(env ...any) map[string]any {
		return map[string]any{"kind": "Deployment", "metadata": map[string]any{"name": "svc"},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "svc", "env": env}}}}
	}
	a := map[string]any{"name": "A", "value": "1"}
	b := map[string]any{"name": "B", "value": "2"}
	b2 := map[string]any{"name": "B", "value": "3"}
	got := Objects("ci", []map[string]any{obj(a, b)}, []map[string]any{obj(map[string]any{"name": "NEW", "value": "0"}, a, b2)})
	want := []Change{
		{Environment: "ci", Object: "Deployment/svc", Kind: "added", Path: "spec.containers[name=svc].env[name=NEW]", New: map[string]any{"name": "NEW", "value": "0"}},
		{Environment: "ci", Object: "Deployment/svc", Kind: "changed", Path: "spec.containers[name=svc].env[name=B].value", Old: "2", New: "3"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestKeyOrderIsNotAChange(t *testing.T) {
	x := map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": "c"}, "data": map[string]any{"a": "1", "b": "2"}}
	y := map[string]any{"data": map[string]any{"b": "2", "a": "1"}, "metadata": map[string]any{"name": "c"}, "kind": "ConfigMap"}
	if got := Objects("ci", []map[string]any{x}, []map[string]any{y}); len(got) != 0 {
		t.Errorf("got %v", got)
	}
}

// TestCredentialsAreNotShown: a diff never prints a secret variable's
// literal or a value that carries a credential, whether the change adds,
// removes or changes it, alone or inside a larger value; anything else it
// shows as it is.
func TestCredentialsAreNotShown(t *testing.T) {
	deployment := func(env ...any) map[string]any {
		return map[string]any{"kind": "Deployment", "metadata": map[string]any{"name": "svc"},
			"spec": map[string]any{"containers": []any{map[string]any{"name": "svc", "env": env}}}}
	}
	configMap := func(data map[string]any) map[string]any {
		return map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": "c"}, "data": data}
	}
	v := func(name, value string) any { return map[string]any{"name": name, "value": value} }
	for name, tc := range map[string]struct{ before, after map[string]any }{
		"removed variable":  {deployment(v("DB_PASS", "PLANTED"), v("A", "1")), deployment(v("A", "1"))},
		"added variable":    {deployment(v("A", "1")), deployment(v("A", "1"), v("API_TOKEN", "PLANTED"))},
		"changed variable":  {deployment(v("JWT_SIGNING_KEY", "PLANTED")), deployment(v("JWT_SIGNING_KEY", "PLANTED2"))},
		"to a reference":    {deployment(v("DB_PASS", "PLANTED")), deployment(map[string]any{"name": "DB_PASS", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "s", "key": "k"}}})},
		"whole container":   {deployment(), map[string]any{"kind": "Deployment", "metadata": map[string]any{"name": "svc"}, "spec": map[string]any{"containers": []any{map[string]any{"name": "svc", "env": []any{v("DB_PASS", "PLANTED")}}}}}},
		"URL with password": {configMap(map[string]any{"db": "postgres://app:PLANTED@db/app"}), configMap(map[string]any{})},
		"private key":       {configMap(map[string]any{}), configMap(map[string]any{"tls": "-----BEGIN PRIVATE KEY-----\nPLANTED"})},
	} {
		t.Run(name, func(t *testing.T) {
			changes := Objects("ci", []map[string]any{tc.before}, []map[string]any{tc.after})
			if len(changes) == 0 {
				t.Fatal("no change found")
			}
			var out strings.Builder
			Text(&out, changes)
			data, _ := json.Marshal(changes)
			for format, got := range map[string]string{"text": out.String(), "json": string(data)} {
				if strings.Contains(got, "PLANTED") {
					t.Errorf("%s shows the credential:\n%s", format, got)
				}
			}
		})
	}
	changes := Objects("ci", []map[string]any{deployment(v("LOG_LEVEL", "info"))}, []map[string]any{deployment(v("LOG_LEVEL", "debug"))})
	if want := []Change{{Environment: "ci", Object: "Deployment/svc", Kind: "changed", Path: "spec.containers[name=svc].env[name=LOG_LEVEL].value", Old: "info", New: "debug"}}; !cmp.Equal(want, changes) {
		t.Errorf("an ordinary variable: %v", changes)
	}
}

// TestAMultiLineValueIsDiffedLineByLine: one changed line deep in a config
// file reads as that line, with its neighbours, not as two quoted strings
// cut before the change.
func TestAMultiLineValueIsDiffedLineByLine(t *testing.T) {
	var old, new strings.Builder
	for i := range 40 {
		line := fmt.Sprintf("setting%02d: value %02d with some words to make it long\n", i, i)
		old.WriteString(line)
		if i == 30 {
			line = "setting30: changed\n"
		}
		new.WriteString(line)
	}
	var out strings.Builder
	Text(&out, []Change{{Environment: "production", Object: "ConfigMap/svc-files", Kind: "changed", Path: `data["config.yaml"]`, Old: old.String(), New: new.String()}})
	want := `environment production:
  ConfigMap/svc-files:
    ~ data["config.yaml"]:
        @@ -28,7 +28,7 @@
         setting27: value 27 with some words to make it long
         setting28: value 28 with some words to make it long
         setting29: value 29 with some words to make it long
        -setting30: value 30 with some words to make it long
        +setting30: changed
         setting31: value 31 with some words to make it long
         setting32: value 32 with some words to make it long
         setting33: value 33 with some words to make it long
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestDiffLinesThatLookLikeHeaders: a removed line "-- comment" and an
// added "++ x" read "--- comment" and "+++ x" in the diff; they are shown.
func TestDiffLinesThatLookLikeHeaders(t *testing.T) {
	var out strings.Builder
	Text(&out, []Change{{Environment: "ci", Object: "ConfigMap/c", Kind: "changed", Path: "data.sql",
		Old: "SELECT 1;\n-- keep the audit trigger\nCREATE TRIGGER audit;\n", New: "SELECT 1;\n++ injected\nCREATE TRIGGER other;\n"}})
	for _, want := range []string{"        --- keep the audit trigger\n", "        +++ injected\n", "        -CREATE TRIGGER audit;\n", "        +CREATE TRIGGER other;\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("%q not shown:\n%s", want, out.String())
		}
	}
}

// TestMarkdownFenceHoldsBackticks: a value with backticks cannot close the
// fenced block it is shown in.
func TestMarkdownFenceHoldsBackticks(t *testing.T) {
	var out strings.Builder
	Markdown(&out, []Change{{Environment: "production", Object: "ConfigMap/x", Kind: "changed", Path: "data.a", Old: "a\nb\n", New: "a\n```` end\n"}})
	text := out.String()
	if !strings.Contains(text, "\n`````diff\n") || !strings.HasSuffix(text, "\n`````\n") {
		t.Errorf("the fence is not longer than the value's backticks:\n%s", text)
	}
	if !strings.HasPrefix(text, "**envgen diff**: 1 change(s) in 1 environment(s): production.") {
		t.Errorf("summary: %s", text)
	}
	out.Reset()
	Markdown(&out, nil)
	if out.String() != "**envgen diff**: no change to any environment.\n" {
		t.Errorf("no changes: %q", out.String())
	}
}
