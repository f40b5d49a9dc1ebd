package evaluator

import (
	"bytes"
	"strings"
	"testing"
)

// TestPassStderrMatchesOnlyLineStarts: the runtime's out-of-memory report
// is recognised where a line starts, also after a line longer than the
// reader's buffer; text the child printed inside a line (a field named
// "…fatal error: out of memory", placed at a chunk's start) is passed on.
func TestPassStderrMatchesOnlyLineStarts(t *testing.T) {
	long := strings.Repeat("x", 4096*3) // over bufio's 4096-byte chunks
	for _, tc := range []struct {
		name, in string
		oom      bool
	}{
		{"inside a long line", "envgen: " + long[:4096-len("envgen: ")] + "fatal error: out of memory\": field not allowed\nnext\n", false},
		{"after a long line", long + "\nruntime: out of memory: cannot allocate 1-byte block\nfatal error: out of memory\ngoroutine 1\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			oom, held := passStderr(strings.NewReader(tc.in), &out)
			if oom != tc.oom {
				t.Fatalf("out of memory %v, want %v", oom, tc.oom)
			}
			if !tc.oom && out.String() != tc.in {
				t.Errorf("not passed on whole: %d of %d bytes", out.Len(), len(tc.in))
			}
			if tc.oom && (strings.Contains(out.String(), "goroutine") || len(held) != 3) {
				t.Errorf("the dump was passed on, or not held: %q, %d held", out.String()[len(long):], len(held))
			}
		})
	}
}
