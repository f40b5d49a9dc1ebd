package vet

import (
	"strings"
	"testing"
)

// TestShownHidesCredentials: an invariant finding never prints a literal
// EG006 would flag, whether the model gives the value as a string or as a
// variable's fields.
func TestShownHidesCredentials(t *testing.T) {
	for _, tc := range []struct {
		path, want string
		v          any
	}{
		{"env.DB_PASS", "not shown", "hunter2"},
		{"env.DATABASE_URL", "not shown", "postgres://app:hunter2@db/app"},
		{"env.DB_PASS", "not shown", map[string]any{"Value": "hunter2"}},
		{"env.LOG_LEVEL", "debug", "debug"},
		{"replicas", "3", 3},
	} {
		if got := shown(tc.path, tc.v); !strings.Contains(got, tc.want) || strings.Contains(got, "hunter2") {
			t.Errorf("shown(%s, %v) = %q, want it to say %q", tc.path, tc.v, got, tc.want)
		}
	}
}
