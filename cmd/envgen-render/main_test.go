package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tree writes files (path → content) under a new directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRenderWritesTheFilledFileReadOnly(t *testing.T) {
	in := tree(t, map[string]string{
		"templates/config.yaml":             "user: app\npassword: ${DB_PASSWORD}\nlog: ${LOG_DIR}\n",
		"secrets/config.yaml/DB_PASSWORD":   "hunter2${X}",
		"templates/other.conf":              "key ${K}",
		"secrets/other.conf/K":              "k\n",
		"secrets/config.yaml/NOT_ASKED_FOR": "never read",
	})
	out := t.TempDir()
	err := run([]string{"--templates", filepath.Join(in, "templates"), "--secrets", filepath.Join(in, "secrets"), "--out", out,
		"config.yaml=DB_PASSWORD", "other.conf=K"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(out, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "user: app\npassword: hunter2${X}\nlog: ${LOG_DIR}\n"; string(got) != want {
		t.Errorf("config.yaml = %q, want %q", got, want)
	}
	info, err := os.Stat(filepath.Join(out, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o444 {
		t.Errorf("mode %v, want 0444", info.Mode().Perm())
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 2 {
		t.Errorf("out holds %d entries, want the two files and no temporary one", len(entries))
	}
}

func TestRenderRefuses(t *testing.T) {
	in := tree(t, map[string]string{
		"templates/config.yaml": "${A}",
		"secrets/config.yaml/A": strings.Repeat("x", maxFileBytes+1),
		"templates/ok.yaml":     "${B}",
	})
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"a value over 1 MiB": {[]string{"config.yaml=A"}, "larger than"},
		"a missing value":    {[]string{"ok.yaml=B"}, "the secret value of ${B} in ok.yaml"},
		"a key with a slash": {[]string{"../config.yaml=A"}, "want KEY=NAME"},
		"a bad name":         {[]string{"ok.yaml=B-1"}, "not a placeholder name"},
		"no names":           {[]string{"ok.yaml="}, "want KEY=NAME"},
		"no files":           {nil, "usage"},
	} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"--templates", filepath.Join(in, "templates"), "--secrets", filepath.Join(in, "secrets"), "--out", t.TempDir()}, c.args...)
			err := run(args)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("run(%q) = %v, want an error with %q", c.args, err, c.want)
			}
		})
	}
}
