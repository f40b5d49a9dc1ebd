// Package termsafe escapes text that came from untrusted input (envgen.cue,
// a container's output) before envgen prints it among its own messages.
package termsafe

import (
	"fmt"
	"strings"
)

// String escapes control characters (an ANSI escape sequence, a carriage
// return) as \xNN, so that the text cannot drive the terminal or disguise
// itself as another line.
func String(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 && r != '\t' || r >= 0x7f && r <= 0x9f {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Lines is String for text of several lines: newlines and tabs stay,
// every other control character (a carriage return that would overwrite
// the line, an escape sequence) is escaped as \xNN.
func Lines(s string) string {
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		lines[i] = String(line)
	}
	return strings.Join(lines, "\n")
}
