package termsafe

import "testing"

func TestString(t *testing.T) {
	if got := String("ok \x1b[31mred\u009b\r\ttab"); got != `ok \x1b[31mred\x9b\x0d`+"\ttab" {
		t.Errorf("String: %q", got)
	}
}
