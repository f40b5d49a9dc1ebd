package compiler

// Saying in words what CUE says with the schema's values: a regular
// expression, a disjunction's every branch, a null's mismatch.

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	cueerrors "cuelang.org/go/cue/errors"
)

// patternSamples say in words what the schema's patterns ask for. CUE
// reports a value that misses one as `invalid value "Citoid" (out of bound
// =~"^[a-z]([-a-z0-9]*[a-z0-9])?$")`: a regular expression the user did
// not write. Each sample misses one pattern of its definition, and the
// words say what that pattern asks (definitions that share a pattern
// share its words); the pattern, as CUE prints it, is learnt by trying
// the sample, so the words follow the schema (a test wants every sample
// to find its pattern).
var patternSamples = []struct {
	def, bad, words string
}{
	{"#CustomAPIVersion", "apps/v1", "a custom resource's group/version: a group with a dot (its CRD's, cert-manager.io), then v1, v1beta1… — a built-in kind (apps/v1 Deployment) needs no declaration"},
	{"#Name", "Citoid", "a name of lowercase letters, digits and '-', from a letter to a letter or digit (a DNS label)"},
	{"#NamespaceName", "Bad_NS", "lowercase letters, digits and '-', from a letter or digit to one (a DNS label)"},
	{"#PortName", "HTTP", "lowercase letters, digits and '-', from a letter or digit to one (a DNS label)"},
	{"#PortName", "8080", "a name with a lowercase letter in it (ports are named in lowercase: http)"},
	{"#PortName", "a--b", "a name without '--'"},
	{"#ObjectName", "Bad_Name", "a Kubernetes object name: lowercase letters, digits, '-' and '.' (a DNS subdomain)"},
	{"#EnvVarName", "1X", "a variable name: letters, digits and '_', not from a digit"},
	{"#ConfigKey", "a b", "a key of ASCII letters, digits, '-', '_' and '.'"},
	{"#LabelKey", "a..b/x", "a label or annotation key: an optional prefix (a DNS subdomain) and '/', then a name of at most 63 letters, digits, '-', '_' and '.', from a letter or digit to one"},
	{"#LabelKey", strings.Repeat("a", 254) + "/x", "a key whose prefix, before '/', has at most 253 characters"},
	{"#LabelValue", "a b", "a label value: letters, digits, '-', '_' and '.', from a letter or digit to one"},
	{"#ImageName", "Registry.example.org/x:1.0", "an image repository in lowercase, without tag or digest (registry.example.org/team/app; the tag goes in tag)"},
	{"#Tag", "-bad", "an image tag: letters, digits, '_', '.' and '-', not from '.' or '-', at most 128"},
	{"#Digest", "sha256:abc", "a digest: sha256: and 64 lowercase hexadecimal digits"},
	{"#FilePath", "relative", "an absolute path to a file"},
	{"#FilePath", "/a/../b", "a path without . or .. parts"},
	{"#FilePath", "/a//b", "a path without an empty part (//)"},
	{"#ItemPath", "/abs", "a relative path inside the mount"},
	{"#ItemPath", "..data", "a path without a part starting with .. (Kubernetes keeps its own files there)"},
	{"#ItemPath", "a//b", "a path without an empty part (//)"},
	{"#RepoPath", "/abs", "a relative path inside the repository"},
	{"#RepoPath", "dir/", "a path without a trailing /"},
	{"#RepoPath", "a\nb", "a path without control characters"},
	{"#RepoPath", "../x", "a path inside the repository, without a .. part"},
	{"#RepoPath", "a/./b", "a path without a . part (only \".\" alone, the directory itself)"},
	{"#RepoPath", "a//b", "a path without an empty part (//)"},
	{"#StageName", "1st", "a Dockerfile stage name: letters, digits, '_', '.' and '-', from a letter"},
	{"#BuildSecretID", "a b", "a secret id: letters, digits, '_', '.' and '-', not from '.' or '-'"},
	{"#Platform", "amd64", "a Linux platform such as linux/amd64 or linux/arm64"},
	{"#Duration", "twenty minutes", "a duration such as 90s, 20m or 1h30m"},
	{"#CPUQuantity", "one", "a CPU quantity such as 500m, 1 or 1.5"},
	{"#MemoryQuantity", "512mb", "a memory quantity such as 512Mi, 1Gi or 1G"},
	{"#IntOrPercent", "150%", "a number, or a percentage from 0% to 100%"},
	{"#CIDR", "10.0.0.0", "an IP block such as 10.64.0.0/16"},
}

// outOfBoundMsg is CUE's message for a value that misses a pattern.
var outOfBoundMsg = regexp.MustCompile(`^invalid value (.*) \(out of bound ((?:=|!)~".*")\)$`)

// patternWords maps each pattern of patternSamples, as CUE prints it
// (=~"^sha256:[a-f0-9]{64}$"), to its words. Learnt once per compile, and
// only when an error needs it.
func (c *compilation) patternWords() map[string]string {
	if c.patterns != nil {
		return c.patterns
	}
	c.patterns = map[string]string{}
	for _, sample := range patternSamples {
		if pattern := c.missedPattern(sample.def, sample.bad); pattern != "" {
			c.patterns[pattern] = sample.words
		}
	}
	return c.patterns
}

// missedPattern is the pattern of def that bad misses, as CUE prints it.
func (c *compilation) missedPattern(def, bad string) string {
	err := c.schema.LookupPath(cue.ParsePath(def)).Unify(c.ctx.Encode(bad)).Validate()
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		if m := outOfBoundMsg.FindStringSubmatch(fmt.Sprintf(format, args...)); m != nil {
			return m[2]
		}
	}
	return ""
}

// inWords says what a value missing one of the schema's patterns should
// be: `"Citoid" is not a name of lowercase letters…`; msg as it was
// otherwise.
func (c *compilation) inWords(msg string) string {
	m := outOfBoundMsg.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	if words, ok := c.patternWords()[m[2]]; ok {
		return m[1] + " is not " + words
	}
	return msg
}

var (
	maxFieldsMsg = regexp.MustCompile(`^invalid value .* \(does not satisfy struct\.MaxFields\(([0-9]+)\)\)$`)
	enumMsg      = regexp.MustCompile(`^conflicting values ("[^"]*") and ("[^"]*")$`)
	runesMsg     = regexp.MustCompile(`^invalid value (.*) \(does not satisfy strings\.(Min|Max)Runes\(([0-9]+)\)\)$`)
	notStructMsg = regexp.MustCompile(`^conflicting values (.*) and \{.*\(mismatched types (string|int|float|bool|list) and struct\)$`)
)

// plainWords says in words what CUE says with the schema's values: a map
// with too many entries, a null where none can be.
func plainWords(msg string) string {
	if m := maxFieldsMsg.FindStringSubmatch(msg); m != nil {
		return "at most " + m[1] + " entries"
	}
	if strings.Contains(msg, "(mismatched types null and ") {
		return nullHint
	}
	if m := notStructMsg.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("expected a struct ({…}), not the %s %s", m[2], m[1])
	}
	if m := runesMsg.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s is too %s: at %s %s characters", m[1], map[string]string{"Min": "short", "Max": "long"}[m[2]], map[string]string{"Min": "least", "Max": "most"}[m[2]], m[3])
	}
	return msg
}

// nullHint is what a null where the schema wants a value means.
const nullHint = "null is not allowed here: null drops what a lower layer set of a variable, a port, an annotation, a label, a container or its resources, a probe, a port of service.ports or its node port, an object, an ingress or egress rule (or all of them) or an undeclared port of one, a scheduled job, a config file or its secret, a mount, a writable directory, writableRoot, the affinity, the resources, the autoscaler or the disruption budget"

// nullReasons say why null cannot drop a field people try to drop.
var nullReasons = map[string]string{
	"replicas": "every environment has a replica count: replicas: 0 runs no Pod",
	"image":    "every environment runs an image",
	"name":     "the service's name names every object",
	"tag":      "tag and digest replace each other: set the other one",
	"digest":   "tag and digest replace each other: set the other one",
	"command":  "command: [] leaves the image's entrypoint as it is",
	"args":     "args: [] leaves the image's arguments as they are",
	"ci":       "the ci environment always runs the build the top level describes",
}

// nullWords is nullHint, with the reason a field cannot be dropped where
// there is one.
func nullWords(field, msg string) string {
	if msg != nullHint {
		return msg
	}
	if why, ok := nullReasons[lastName(field)]; ok {
		return "null cannot drop " + lastName(field) + ": " + why
	}
	return msg
}

// lastName is a field path's last name: environments.staging.replicas →
// replicas.
func lastName(field string) string {
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		return field[i+1:]
	}
	return field
}

// withoutNullBranches drops what CUE says about the null branch of a field
// that a layer may set to null to drop it (autoscale: null | {…}): the
// disjunction's summary and "mismatched types struct and null", when an
// error about the struct itself says what is wrong.
func withoutNullBranches(errs []cueerrors.Error) []cueerrors.Error {
	message := func(e cueerrors.Error) string {
		format, args := e.Msg()
		return fmt.Sprintf(format, args...)
	}
	nullBranch := map[string]bool{}
	for _, e := range errs {
		field := cuePathString(e.Path())
		if isEnvVar(strings.Split(field, ".")) {
			continue // a variable's own hint covers its disjunction
		}
		// A null where a value is expected (service: type: null) fails
		// every branch of the disjunction the same way.
		if msg := message(e); isNullMismatch(msg) || strings.Contains(msg, "(mismatched types null and ") {
			nullBranch[field] = true
		}
	}
	kept := slices.DeleteFunc(slices.Clone(errs), func(e cueerrors.Error) bool {
		if !nullBranch[cuePathString(e.Path())] {
			return false
		}
		msg := message(e)
		// The struct branch inside matchN may fail as a cycle of bottoms
		// (_|_), which says nothing to a user; the matchN hint does.
		return strings.Contains(msg, "errors in empty disjunction") || isNullMismatch(msg) ||
			strings.Contains(msg, "_|_")
	})
	if len(kept) == 0 {
		return errs
	}
	return kept
}

// withoutOtherKinds drops, for a value that failed every branch of a
// disjunction, the summary and the branches of another kind than the
// value's ("mismatched types string and int", a string where a struct
// may be) when a branch of its own kind says what is wrong: "150%" for
// maxSurge is a percentage over 100, not "not an int".
func withoutOtherKinds(errs []cueerrors.Error) []cueerrors.Error {
	type verdicts struct{ summary, otherKind, ownKind bool }
	byField := map[string]*verdicts{}
	kindOf := func(e cueerrors.Error) (field string, summary, other bool) {
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		// A struct branch met by a scalar says "cannot combine regular
		// field": another kind too.
		return cuePathString(e.Path()), strings.Contains(msg, "errors in empty disjunction"),
			strings.Contains(msg, "(mismatched types ") || strings.Contains(msg, "cannot combine regular field")
	}
	for _, e := range errs {
		field, summary, other := kindOf(e)
		if isEnvVar(strings.Split(field, ".")) {
			continue // a variable's own hint covers its disjunction
		}
		v := byField[field]
		if v == nil {
			v = &verdicts{}
			byField[field] = v
		}
		switch {
		case summary:
			v.summary = true
		case other:
			v.otherKind = true
		default:
			v.ownKind = true
			// An error inside the value (vet.off.X.reason) says what is
			// wrong with it as well as one at the value itself.
			for parent := field; strings.Contains(parent, "."); {
				parent = parent[:strings.LastIndexByte(parent, '.')]
				if byField[parent] == nil {
					byField[parent] = &verdicts{}
				}
				byField[parent].ownKind = true
			}
		}
	}
	return slices.DeleteFunc(slices.Clone(errs), func(e cueerrors.Error) bool {
		field, summary, other := kindOf(e)
		v := byField[field]
		return v != nil && v.summary && v.otherKind && v.ownKind && (summary || other)
	})
}

// isNullMismatch is CUE's account of a value checked against the null
// branch of a field that may be null: "(mismatched types string and null)".
func isNullMismatch(msg string) bool {
	return strings.Contains(msg, "(mismatched types ") && strings.HasSuffix(msg, " and null)")
}

// oneOfHint says in words what a failed matchN of the schema means.
func oneOfHint(field string) string {
	parts := strings.Split(field, ".")
	last := parts[len(parts)-1]
	switch {
	case len(parts) >= 2 && parts[len(parts)-2] == "probes", last == "readiness":
		return "a probe needs exactly one of http, tcp or exec"
	case last == "disruptionBudget":
		return "give exactly one of minAvailable and maxUnavailable"
	case last == "preStop":
		return "give exactly one of sleep and exec"
	case isEnvVar(parts):
		return "a reference needs exactly one of secret and configMap, and a key"
	case mountField.MatchString(field):
		return "a mount is one existing Secret or ConfigMap: give exactly one of secret and configMap"
	}
	return ""
}

// mountField matches a mount's field path: mounts."/etc/app.d".
var mountField = regexp.MustCompile(`(^|\.)mounts\."[^"]*"$`)

func isEnvVar(parts []string) bool { return len(parts) >= 2 && parts[len(parts)-2] == "env" }

// envVarHint replaces CUE's account of an environment variable that fits
// neither form of #EnvValue (one line per form tried) with one line.
const envVarHint = `an environment variable is a string (at most 32768 characters), {secret: name, key: k} or {configMap: name, key: k}`
