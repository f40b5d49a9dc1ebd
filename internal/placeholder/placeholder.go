// Package placeholder fills the ${NAME} placeholders of a config file
// whose secret values come from the cluster (envgen.cue's fileSecrets).
//
// It is shared by the compiler, which checks that every placeholder a
// file declares is in its content, and by envgen-render, the init
// container that fills them when the Pod starts. It has no dependencies,
// so the renderer stays a small static binary.
package placeholder

import (
	"bytes"
	"strings"
)

// IsName says whether name can be a placeholder's name: a letter or _
// then letters, digits and _ (as an environment variable's).
func IsName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Contains says whether content has the placeholder ${name}.
func Contains(content, name string) bool {
	return strings.Contains(content, "${"+name+"}")
}

// Fill replaces, in one pass over template, every ${NAME} whose NAME is a
// key of values by that value, byte for byte. Other ${...} stay as they
// are (an Apache ${APACHE_LOG_DIR}), and a value is never scanned again:
// a secret that contains "${OTHER}" is written as it is.
func Fill(template []byte, values map[string][]byte) []byte {
	var out bytes.Buffer
	out.Grow(len(template))
	rest := template
	for {
		start := bytes.Index(rest, []byte("${"))
		if start < 0 {
			out.Write(rest)
			return out.Bytes()
		}
		end := bytes.IndexByte(rest[start+2:], '}')
		if end < 0 {
			out.Write(rest)
			return out.Bytes()
		}
		name := string(rest[start+2 : start+2+end])
		value, ok := values[name]
		if !ok || !IsName(name) {
			// Not ours: keep "${" and go on after it, so that a "${" inside
			// it (${a${B}}) is still seen.
			out.Write(rest[:start+2])
			rest = rest[start+2:]
			continue
		}
		out.Write(rest[:start])
		out.Write(value)
		rest = rest[start+2+end+1:]
	}
}

// Names lists the distinct names of the placeholders in content, in the
// order they first appear.
func Names(content string) []string {
	var names []string
	seen := map[string]bool{}
	for rest := content; ; {
		start := strings.Index(rest, "${")
		if start < 0 {
			return names
		}
		rest = rest[start+2:]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return names
		}
		if name := rest[:end]; IsName(name) && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
}
