package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCollectSecrets(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(cert, []byte("-----BEGIN CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"MW_TOKEN": "s3cr3t-value", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	declared := map[string][]string{"citoid-secrets": {"mw-api-token", "ca.crt"}}

	got, err := CollectSecrets(declared, []string{"citoid-secrets/mw-api-token=env:MW_TOKEN", "citoid-secrets/ca.crt=file:" + cert}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := Secrets{"citoid-secrets": {"mw-api-token": []byte("s3cr3t-value"), "ca.crt": []byte("-----BEGIN CERTIFICATE-----\n")}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		specs []string
		err   string
	}{
		{[]string{"citoid-secrets/mw-api-token=env:MW_TOKEN"}, "declares citoid-secrets/ca.crt: pass it with --secret citoid-secrets/ca.crt=env:VARIABLE"},
		{[]string{"citoid-secrets/mw-api-token=env:EMPTY", "citoid-secrets/ca.crt=file:" + cert}, "environment variable EMPTY is not set or empty"},
		{[]string{"citoid-secrets/mw-api-token=env:UNSET"}, "environment variable UNSET is not set or empty"},
		{[]string{"other/key=env:MW_TOKEN"}, "the 1st --secret (not shown: it may be a value): envgen.cue's ci.secrets declares no such NAME/KEY (it declares citoid-secrets/mw-api-token, citoid-secrets/ca.crt)"},
		// A base64 value given alone ends in "=": what precedes it is no
		// declared name, so it is not shown either.
		{[]string{"citoid-secrets/ca.crt=file:" + cert, "czNjcjN0LXZhbHVl="}, "--secret (the 2nd; not shown: what comes before \"=\" is no name envgen.cue declares"},
		{[]string{"citoid-secrets/ca.crt=file:" + dir}, "is not a regular file"},
		{[]string{"citoid-secrets/ca.crt=file:" + filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"citoid-secrets/ca.crt=vault:x"}, `its source is neither env:VARIABLE nor file:PATH`},
		{[]string{"citoid-secrets=env:MW_TOKEN"}, "want NAME/KEY=env:VARIABLE or NAME/KEY=file:PATH"},
		// The value where its source belongs, or alone: never echoed.
		{[]string{"citoid-secrets/mw-api-token=s3cr3t-value"}, "its source is neither env:VARIABLE nor file:PATH (not shown"},
		{[]string{"citoid-secrets/mw-api-token:s3cr3t-value"}, "given without"},
		{[]string{"s3cr3t-value"}, "given without"},
		{[]string{"citoid-secrets=x"}, `--secret "citoid-secrets"=…: want NAME/KEY`},
		{[]string{"citoid-secrets/ca.crt=file:" + cert, "citoid-secrets/ca.crt=file:" + cert}, "given twice"},
	} {
		_, err := CollectSecrets(declared, tc.specs, lookup)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: error %v, want %q", tc.specs, err, tc.err)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t-value") {
			t.Errorf("%v: the error shows a value: %v", tc.specs, err)
		}
	}
}

func TestCheckReferences(t *testing.T) {
	envFrom := func(kind, name, key string) map[string]any {
		return map[string]any{"name": "V", "valueFrom": map[string]any{kind: map[string]any{"name": name, "key": key}}}
	}
	pod := func(env ...map[string]any) map[string]any {
		var list []any
		for _, e := range env {
			list = append(list, e)
		}
		return map[string]any{"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": "svc-ci-build", "labels": map[string]any{"app.kubernetes.io/component": "ci-build"}},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": "build", "env": list}}}}
	}
	// fileSecrets: a projected volume of FILE/NAME items.
	rendered := func(secret, key string) map[string]any {
		p := pod()
		p["spec"].(map[string]any)["volumes"] = []any{map[string]any{"name": "file-secrets", "projected": map[string]any{"sources": []any{
			map[string]any{"secret": map[string]any{"name": secret, "items": []any{map[string]any{"key": key, "path": "config.yaml/DB_PASSWORD"}}}},
		}}}}
		return p
	}
	configMap := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "svc-files"}, "data": map[string]any{"config.yaml": "x"}}
	secrets := map[string][]string{"svc-secrets": {"token"}}

	for _, tc := range []struct {
		objects []map[string]any
		err     string
	}{
		{[]map[string]any{pod(envFrom("secretKeyRef", "svc-secrets", "token"))}, ""},
		{[]map[string]any{pod(envFrom("configMapKeyRef", "svc-files", "config.yaml")), configMap}, ""},
		{[]map[string]any{pod(envFrom("secretKeyRef", "svc-secrets", "other"))}, `reads Secret "svc-secrets" key "other" into V`},
		{[]map[string]any{pod(envFrom("secretKeyRef", "db", "password"))}, `declare it in ci.secrets ("db": ["password"])`},
		{[]map[string]any{pod(envFrom("configMapKeyRef", "features", "flags"))}, `reads ConfigMap "features" key "flags" into V`},
		{[]map[string]any{rendered("svc-secrets", "token")}, ""},
		{[]map[string]any{rendered("svc-secrets", "password")}, `the build Pod fills ${DB_PASSWORD} of the config file config.yaml from Secret "svc-secrets" (key "password"), which the build's namespace will not have: declare it in ci.secrets ("svc-secrets": ["password"])`},
		{[]map[string]any{rendered("db", "password")}, `fills ${DB_PASSWORD} of the config file config.yaml from Secret "db" (key "password")`},
	} {
		err := CheckReferences(tc.objects, secrets)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("unexpected error: %v", err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("error %v, want %q", err, tc.err)
		}
	}
}
