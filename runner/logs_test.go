package runner

import "testing"

// TestOneLineEscapes: what the cluster says of a Pod or an event carries
// what the build wrote (a readiness probe's output, a termination
// message); envgen prints its first line with control characters escaped.
func TestOneLineEscapes(t *testing.T) {
	got := oneLine("Readiness probe failed: \x1b[2K\renvgen: build passed\nsecond line")
	if want := `Readiness probe failed: \x1b[2K\x0denvgen: build passed`; got != want {
		t.Errorf("oneLine = %q, want %q", got, want)
	}
}
