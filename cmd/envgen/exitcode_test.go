package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"envgen.dev/envgen/cmd/envgen/cli"
	"envgen.dev/envgen/cmd/envgen/clustercli"
)

// TestExitCodes pins the codes scripts rely on for usage mistakes.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"genrate"}, cli.ExitUsage, "Did you mean this?\n\tgenerate"},
		{[]string{"frobnicate"}, cli.ExitUsage, `unknown command "frobnicate"`},
		{[]string{"build"}, cli.ExitUsage, "--env is required"},
		{[]string{"build", "--nope"}, cli.ExitUsage, "unknown flag: --nope"},
		{[]string{"version", "-o", "xml"}, cli.ExitUsage, "--output must be text or json"},
		{[]string{"version"}, cli.ExitOK, ""},
		{[]string{"rbac", "--service-account-namespace", ""}, cli.ExitUsage, `--service-account-namespace "" is not a namespace name`},
		{[]string{"rbac", "--service-account", "Bad_Name"}, cli.ExitUsage, `--service-account "Bad_Name" is not a ServiceAccount name`},
		{[]string{"build", "--env", "ci", "--max-memory", "lots"}, cli.ExitUsage, `--max-memory "lots" is not a size`},
	} {
		var stdout, stderr bytes.Buffer
		code := clustercli.Run(context.Background(), tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("envgen %v: exit %d, want %d; stderr %q, want it to contain %q", tc.args, code, tc.code, stderr.String(), tc.stderr)
		}
	}
	var stdout bytes.Buffer
	clustercli.Run(context.Background(), []string{"version"}, &stdout, &bytes.Buffer{})
	if !strings.HasPrefix(stdout.String(), "envgen 0.") || !strings.Contains(stdout.String(), "commit ") {
		t.Errorf("envgen version printed %q", stdout.String())
	}
}

// An object whose overlay file would be another's is the input's fault:
// exit 1, not an I/O failure (testscripts/regressions.txtar shows the
// message).
func TestFileClashIsInvalidInput(t *testing.T) {
	dir := t.TempDir()
	src := `name: "svc"
image: "registry.example.org/svc"
digest: "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
objects: "ConfigMap/w": {apiVersion: "v1", data: k: "1"}
environments: staging: objects: {
	"ConfigMap/w": data: k: "2"
	"ConfigMap/w.patch": {apiVersion: "v1", data: k: "3"}
}
`
	if err := os.WriteFile(filepath.Join(dir, "envgen.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := clustercli.Run(context.Background(), []string{"generate", "--allow-findings", dir}, &bytes.Buffer{}, &stderr); code != cli.ExitInvalid {
		t.Errorf("exit %d, want %d; stderr %q", code, cli.ExitInvalid, stderr.String())
	}
}
