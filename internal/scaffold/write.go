package scaffold

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"cuelang.org/go/cue/format"
)

// Service is what envgen init writes a first envgen.cue from.
type Service struct {
	Name string
	// Image is the repository; Tag or Digest pins it.
	Image, Tag, Digest string
	// Ports by name, in order; the first is the one probes check.
	Ports []Port
	// HealthPath is the HTTP path the probes ask; "" for a TCP check.
	HealthPath string
	// Command is the test command CI runs in the image.
	Command []string
	// CommandFrom is the file Command was guessed from ("" if given).
	CommandFrom string
}

// Port is a named port of the service.
type Port struct {
	Name   string
	Number int
}

// NameFrom makes a service name of a directory's: lower case, what is not
// a letter, digit or hyphen a hyphen, starting with a letter, at most 40.
func NameFrom(dir string) string {
	name := strings.Trim(nonName.ReplaceAllString(strings.ToLower(dir), "-"), "-")
	name = strings.TrimLeft(name, "0123456789-")
	if len(name) > 40 {
		name = strings.TrimRight(name[:40], "-")
	}
	return name
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// ParseImage splits an image reference into its repository and its tag
// or digest.
func ParseImage(ref string) (image, tag, digest string, err error) {
	if repo, d, ok := strings.Cut(ref, "@"); ok {
		return repo, "", d, nil
	}
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		return ref[:colon], ref[colon+1:], "", nil
	}
	return "", "", "", fmt.Errorf("%q names no tag or digest: give registry.example.org/team/service:1.0 or …@sha256:…", ref)
}

// EnvgenCUE is the first envgen.cue of s: commented, formatted, and meant
// to pass envgen vet as written.
func EnvgenCUE(s Service) ([]byte, error) {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("// %s: one description of the service for development, CI, staging and\n", s.Name)
	w("// production. Written by envgen init; yours to edit. `envgen schema` shows\n")
	w("// every field, `envgen vet` checks the file, `envgen generate` writes deploy/.\n")
	w("name:  %s\n", quote(s.Name))
	w("image: %s\n", quote(s.Image))
	if s.Digest != "" {
		w("digest: %s\n", quote(s.Digest))
	} else {
		w("tag: %s\n", quote(s.Tag))
	}
	w("\n// The ports the service listens on, by name.\n")
	w("ports: {\n")
	for _, p := range s.Ports {
		w("\t%s: %d\n", label(p.Name), p.Number)
	}
	w("}\n")
	probe := fmt.Sprintf("tcp: port: %s", quote(s.Ports[0].Name))
	if s.HealthPath != "" {
		probe = fmt.Sprintf("http: {path: %s, port: %s}", quote(s.HealthPath), quote(s.Ports[0].Name))
	}
	w("\n// Ready for traffic, and alive: the kubelet checks both.\n")
	w("probes: {\n\treadiness: %s\n\tliveness: %s\n}\n", probe, probe)
	w("\n// Measure, then adjust: the scheduler reserves requests, the kernel\n")
	w("// enforces limits.\n")
	w("resources: {\n\trequests: {cpu: \"100m\", memory: \"128Mi\"}\n\tlimits: {cpu: \"1\", memory: \"256Mi\"}\n}\n")
	w("\n// What CI runs in the image: envgen run exits with its exit code.\n")
	if s.CommandFrom != "" {
		w("// Guessed from %s.\n", s.CommandFrom)
	}
	w("ci: {\n\tcommand: %s\n\ttimeout: \"20m\"\n}\n", quoteList(s.Command))
	w("\n// Each environment says only what differs. Staging and production keep\n")
	w("// two Pods, and at most one of them away at a time.\n")
	w("environments: {\n")
	for _, env := range []string{"staging", "production"} {
		w("\t%s: {\n\t\treplicas: 2\n\t\tdisruptionBudget: maxUnavailable: 1\n\t}\n", env)
	}
	w("}\n")
	if s.Digest == "" {
		w("\n// Staging and production run images by digest (vet EG016). Until the first\n")
		w("// image has passed CI, there is none to pin: `envgen promote` writes it\n")
		w("// into envgen.lock.cue. Then delete this switch.\n")
		w("vet: off: EG016: {\n\treason: \"no image promoted yet: envgen promote pins the digest; delete this switch then\"\n\tenvironments: [\"staging\", \"production\"]\n}\n")
	}
	return format.Source(b.Bytes())
}

// label is a field name as CUE writes it: bare where it is an
// identifier.
func label(s string) string {
	if identifier.MatchString(s) {
		return s
	}
	return quote(s)
}

var identifier = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]*$`)

// quote is a CUE string: JSON's quoting is CUE's.
func quote(s string) string {
	data, _ := json.Marshal(s)
	return string(data)
}

func quoteList(list []string) string {
	quoted := make([]string, len(list))
	for i, s := range list {
		quoted[i] = quote(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}
