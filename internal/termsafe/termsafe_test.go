package termsafe

import "testing"

func TestString(t *testing.T) {
	if got := String("ok \x1b[31mred\u009b\r\ttab"); got != `ok \x1b[31mred\x9b\x0d`+"\ttab" {
		t.Errorf("String: %q", got)
	}
}

func TestLines(t *testing.T) {
	if got := Lines("first \x1b[2K\rline\nsecond\tline\n"); got != `first \x1b[2K\x0dline`+"\nsecond\tline\n" {
		t.Errorf("Lines: %q", got)
	}
}
