package vet

import "testing"

func TestTerminalSafe(t *testing.T) {
	if got := terminalSafe("ok \x1b[31mred\u009b"); got != `ok \x1b[31mred\x9b` {
		t.Errorf("terminalSafe: %q", got)
	}
}
