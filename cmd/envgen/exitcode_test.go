package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"envgen.dev/envgen/cmd/envgen/cli"
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
		code := cli.Run(context.Background(), tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("envgen %v: exit %d, want %d; stderr %q, want it to contain %q", tc.args, code, tc.code, stderr.String(), tc.stderr)
		}
	}
	var stdout bytes.Buffer
	cli.Run(context.Background(), []string{"version"}, &stdout, &bytes.Buffer{})
	if !strings.HasPrefix(stdout.String(), "envgen 0.") || !strings.Contains(stdout.String(), "commit ") {
		t.Errorf("envgen version printed %q", stdout.String())
	}
}
