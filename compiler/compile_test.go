package compiler_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/model"
)

const header = `
name: "svc"
image: "registry.example.org/svc"
tag: "1.0"
ports: {http: 8080, admin: 9090}
`

func compile(t *testing.T, src string) *compiler.Project {
	t.Helper()
	p, err := compiler.Compile("envgen.cue", []byte(header+src), compiler.Options{})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

func env(t *testing.T, p *compiler.Project, name string) *model.Service {
	t.Helper()
	s, err := p.Environment(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLayers(t *testing.T) {
	tests := []struct {
		desc string
		src  string
		env  string
		get  func(*model.Service) any
		want any
	}{{
		desc: "top-level value is every environment's default",
		src:  `replicas: 3`,
		env:  "staging",
		get:  func(s *model.Service) any { return s.Replicas },
		want: int32(3),
	}, {
		desc: "environment overrides top level",
		src:  "replicas: 3\nenvironments: production: replicas: 8",
		env:  "production",
		get:  func(s *model.Service) any { return s.Replicas },
		want: int32(8),
	}, {
		desc: "ci runs no replicas of the service unless it says so",
		src:  `replicas: 3`,
		env:  "ci",
		get:  func(s *model.Service) any { return s.Replicas },
		want: int32(0),
	}, {
		desc: "structs merge field by field",
		src:  "resources: limits: {cpu: \"1\", memory: \"1Gi\"}\nenvironments: production: resources: limits: memory: \"2Gi\"",
		env:  "production",
		get:  func(s *model.Service) any { return s.Resources.Limits },
		want: map[string]string{"cpu": "1", "memory": "2Gi"},
	}, {
		desc: "lists are replaced whole",
		src:  "args: [\"a\", \"b\"]\nenvironments: development: args: [\"c\"]",
		env:  "development",
		get:  func(s *model.Service) any { return s.Args },
		want: []string{"c"},
	}, {
		desc: "null drops a port, an annotation, the resources and every egress rule",
		src:  "annotations: {a: \"1\", b: \"2\"}\nresources: limits: cpu: \"1\"\negress: db: cidrs: [\"10.0.0.0/8\"]\nenvironments: staging: {ports: admin: null, annotations: a: null, resources: null, egress: null}",
		env:  "staging",
		get:  func(s *model.Service) any { return []any{s.Ports, s.Annotations, s.Resources, s.Egress} },
		want: []any{map[string]int32{"http": 8080}, map[string]string{"b": "2"}, (*model.Resources)(nil), map[string]model.Egress(nil)},
	}, {
		desc: "a probe is replaced as a unit: http becomes tcp",
		src:  "probes: readiness: http: {path: \"/\", port: \"http\"}\nenvironments: staging: probes: readiness: tcp: port: \"admin\"",
		env:  "staging",
		get:  func(s *model.Service) any { return s.Probes.Readiness },
		want: &model.Probe{TCP: &model.TCPCheck{Port: model.PortRef{Name: "admin"}}},
	}, {
		desc: "a digest in an environment replaces the top-level tag",
		src:  `environments: production: digest: "sha256:` + strings.Repeat("a", 64) + `"`,
		env:  "production",
		get:  func(s *model.Service) any { return s.ImageRef() },
		want: "registry.example.org/svc@sha256:" + strings.Repeat("a", 64),
	}, {
		desc: "an environment variable can turn from a literal into a secret reference",
		src:  "env: DB: \"local\"\nenvironments: production: env: DB: {secret: \"db\", key: \"url\"}",
		env:  "production",
		get:  func(s *model.Service) any { return s.Env["DB"] },
		want: model.EnvVar{Secret: "db", Key: "url"},
	}, {
		desc: "environment variables: top level first, then what the environment adds",
		src:  "env: {B: \"1\", A: \"2\"}\nenvironments: development: env: {D: \"3\", C: \"4\"}",
		env:  "development",
		get:  func(s *model.Service) any { return s.EnvOrder },
		want: []string{"A", "B", "C", "D"},
	}, {
		desc: "extends starts from the other environment's overrides",
		src:  "environments: {production: {replicas: 8, args: [\"--prod\"]}, \"production-eqiad\": {extends: \"production\", replicas: 10}}",
		env:  "production-eqiad",
		get:  func(s *model.Service) any { return []any{s.Replicas, s.Args} },
		want: []any{int32(10), []string{"--prod"}},
	}, {
		desc: "schema defaults fill what nobody set",
		src:  "autoscale: {min: 2, max: 4}\nci: command: [\"make\", \"test\"]",
		env:  "ci",
		get:  func(s *model.Service) any { return []any{s.Autoscale.CPUPercent, s.CI.Timeout, s.CI.TimeoutSeconds} },
		want: []any{int32(80), "30m", int64(1800)},
	}}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := tc.get(env(t, compile(t, tc.src), tc.env))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnvironmentOrder(t *testing.T) {
	p := compile(t, `environments: {zeta: {}, "production-eqiad": {extends: "production"}}`)
	want := []string{"development", "ci", "staging", "production", "production-eqiad", "zeta"}
	if diff := cmp.Diff(want, p.EnvironmentNames()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		desc string
		src  string
		want string
	}{{
		desc: "merged value breaks a cross-field rule at the environment's position",
		src:  "autoscale: {min: 2, max: 4}\nenvironments: production: autoscale: min: 8",
		want: "envgen.cue:6:26: autoscale.max (in environment production): invalid value 4 (out of bound >=8)",
	}, {
		desc: "a probe with two checks",
		src:  `probes: liveness: {tcp: port: "http", exec: command: ["true"]}`,
		want: "envgen.cue:6:9: probes.liveness: a probe needs exactly one of http, tcp or exec",
	}, {
		desc: "both tag and digest at one level",
		src:  `digest: "sha256:` + strings.Repeat("b", 64) + `"`,
		want: "envgen.cue:6:9: digest: give a tag or a digest, not both",
	}, {
		desc: "extends names no environment",
		src:  `environments: x: extends: "nope"`,
		want: `envgen.cue:6:27: environments.x.extends: extends unknown environment "nope"`,
	}, {
		desc: "two config files with one ConfigMap key",
		src:  "files: {\"/a/b/app.conf\": \"x\", \"/a_b/app.conf\": \"y\"}",
		want: `file /a/b/app.conf and /a_b/app.conf would have one ConfigMap key, "a_b_app.conf"; rename one`,
	}, {
		desc: "a file secret of a file that is not one",
		src:  fileRenderer + `fileSecrets: "/etc/svc/app.yaml": PASS: {secret: "s", key: "k"}`,
		want: `envgen.cue:7:35: fileSecrets."/etc/svc/app.yaml": /etc/svc/app.yaml is not one of the service's files (there are no files)`,
	}, {
		desc: "a file secret whose placeholder the content lacks",
		src:  fileRenderer + "files: \"/etc/a.yaml\": \"pass: ${PASSWD} dir: ${LOG_DIR}\"\nfileSecrets: \"/etc/a.yaml\": PASS: {secret: \"s\", key: \"k\"}",
		want: `fileSecrets."/etc/a.yaml".PASS: the content of /etc/a.yaml has no ${PASS} for this secret to fill (it has [PASSWD LOG_DIR])`,
	}, {
		desc: "a file secret without a renderer",
		src:  "files: \"/etc/a.yaml\": \"pass: ${PASS}\"\nfileSecrets: \"/etc/a.yaml\": PASS: {secret: \"s\", key: \"k\"}",
		want: `fileSecrets."/etc/a.yaml": a file with secrets is written when the Pod starts by envgen-render, whose image is not set`,
	}, {
		desc: "a renderer without its digest",
		src:  "fileRenderer: image: \"r.example.org/envgen-render\"",
		want: `fileRenderer.digest`,
	}, {
		desc: "a container with the renderer's name",
		src:  `containers: "envgen-render": {kind: "sidecar", image: "r.example.org/x", tag: "1"}`,
		want: `a container cannot be named "envgen-render": envgen gives that name to the init container that writes the files with secrets`,
	}, {
		desc: "an envgen label among the Pod labels",
		src:  `labels: {app: "svc", "app.kubernetes.io/instance": "other"}`,
		want: `envgen.cue:6:52: labels."app.kubernetes.io/instance": app.kubernetes.io/instance is envgen's own label`,
	}, {
		desc: "a misspelt affinity field",
		src:  `scheduling: affinity: nodeAffinity: requiredDuringScheduling: nodeSelectorTerms: []`,
		want: `scheduling.affinity.nodeAffinity.requiredDuringScheduling: a Kubernetes affinity has no field requiredDuringScheduling here`,
	}, {
		desc: "a pod affinity term without its topology key",
		src:  `scheduling: affinity: podAntiAffinity: requiredDuringSchedulingIgnoredDuringExecution: [{labelSelector: matchLabels: app: "svc"}]`,
		want: `scheduling.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution: term 0 has no topologyKey`,
	}, {
		desc: "an affinity value of the wrong type",
		src:  `scheduling: affinity: podAffinity: preferredDuringSchedulingIgnoredDuringExecution: [{weight: "high"}]`,
		want: `scheduling.affinity: podAffinity.preferredDuringSchedulingIgnoredDuringExecution.weight is a number (int32) in the Kubernetes API, not a string`,
	}, {
		desc: "an ingress port no container declares",
		src:  `ingress: prometheus: {namespaces: ["monitoring"], ports: [9361]}`,
		want: `ingress.prometheus.ports[0]: no container port 9361 in the Pod (ports: admin 9090, http 8080): a network policy opens the Pods' ports, not the Service's (a port the Pod serves that no container declares, say so in undeclaredPorts: "9361": "who serves it")`,
	}, {
		desc: "an undeclared port that is declared",
		src:  `ingress: prometheus: {namespaces: ["monitoring"], undeclaredPorts: "9090": "the admin listener's metrics"}`,
		want: `ingress.prometheus.undeclaredPorts."9090": port 9090 is declared, as "admin": name it in ports (ports: ["admin"])`,
	}, {
		desc: "dropping a rule's last undeclared port",
		src:  "ingress: prometheus: {namespaces: [\"monitoring\"], undeclaredPorts: \"9361\": \"envoy's admin listener\"}\nenvironments: staging: ingress: prometheus: undeclaredPorts: \"9361\": null",
		want: `envgen.cue:7:70: environments.staging.ingress.prometheus.undeclaredPorts."9361": this drops the last port of ingress rule prometheus, and a rule without ports opens every port of the Pod: drop the rule (ingress: prometheus: null) or name the ports it opens (in environment staging)`,
	}, {
		desc: "an undeclared port past 65535",
		src:  `ingress: prometheus: {namespaces: ["monitoring"], undeclaredPorts: "99999": "the admin listener's metrics"}`,
		want: `ingress.prometheus.undeclaredPorts."99999": 99999 is not a port number (1–65535)`,
	}, {
		desc: "null where nothing can be dropped says why",
		src:  "environments: staging: replicas: null",
		want: `environments.staging.replicas: null cannot drop replicas: every environment has a replica count: replicas: 0 runs no Pod`,
	}, {
		desc: "a node affinity operator kube-apiserver does not know",
		src:  `scheduling: affinity: nodeAffinity: requiredDuringSchedulingIgnoredDuringExecution: nodeSelectorTerms: [{matchExpressions: [{key: "pool", operator: "Bogus"}]}]`,
		want: `scheduling.affinity.nodeAffinity: key pool: operator "Bogus" is not In, NotIn, Exists, DoesNotExist, Gt or Lt`,
	}, {
		desc: "In without values",
		src:  `scheduling: affinity: nodeAffinity: requiredDuringSchedulingIgnoredDuringExecution: nodeSelectorTerms: [{matchExpressions: [{key: "pool", operator: "In", values: []}]}]`,
		want: `key pool: operator In needs values`,
	}, {
		desc: "a pod affinity selector apimachinery's validation refuses",
		src:  `scheduling: affinity: podAffinity: requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: "kubernetes.io/hostname", labelSelector: matchExpressions: [{key: "app", operator: "Exists", values: ["x"]}]}]`,
		want: `term 0: labelSelector.matchExpressions[0].values: Forbidden`,
	}, {
		desc: "a topology key that is no label key",
		src:  `scheduling: affinity: podAntiAffinity: requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: "not a/valid/key", labelSelector: matchLabels: app: "x"}]`,
		want: `term 0: topologyKey "not a/valid/key" is not a label key`,
	}, {
		desc: "a node field other than the node's name",
		src:  `scheduling: affinity: nodeAffinity: requiredDuringSchedulingIgnoredDuringExecution: nodeSelectorTerms: [{matchFields: [{key: "metadata.namespace", operator: "In", values: ["a"]}]}]`,
		want: `matchFields key "metadata.namespace": a node is matched by one field, metadata.name`,
	}, {
		desc: "a matchLabelKeys key the selector names",
		src:  `scheduling: affinity: podAntiAffinity: requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: "kubernetes.io/hostname", labelSelector: matchLabels: app: "svc", matchLabelKeys: ["app"]}]`,
		want: `term 0: app is in both matchLabelKeys and labelSelector (kube-apiserver adds matchLabelKeys to each Pod's selector, and would refuse every Pod)`,
	}, {
		desc: "timeout over a day",
		src:  `ci: timeout: "25h"`,
		want: `ci.timeout: "25h" is not a duration between 1s and 24h0m0s`,
	}}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := compiler.Compile("envgen.cue", []byte(header+tc.src), compiler.Options{})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if _, ok := err.(*compiler.InputError); !ok {
				t.Errorf("error is %T, want *compiler.InputError", err)
			}
		})
	}
}

// fileRenderer is a renderer image, for the sources with fileSecrets.
const fileRenderer = `fileRenderer: {image: "r.example.org/envgen-render", digest: "sha256:` + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + `"}
`

func TestFileSecrets(t *testing.T) {
	p := compile(t, fileRenderer+`
files: "/etc/a.yaml": "user: u\npass: ${PASS}\nkey: ${KEY}\n"
fileSecrets: "/etc/a.yaml": {PASS: {secret: "db", key: "password"}, KEY: {secret: "api", key: "key"}}
environments: {
	// The ci build's database has a password of its own.
	ci: fileSecrets: "/etc/a.yaml": PASS: {secret: "ci-db", key: "password"}
	// A developer's machine has no API key: the placeholder stays.
	development: fileSecrets: "/etc/a.yaml": KEY: null
	// A layer that drops every secret of a file mounts it as it is.
	staging: fileSecrets: "/etc/a.yaml": {KEY: null, PASS: null}
	// A layer drops a file with its secrets.
	"staging-beta": {extends: "staging", files: "/etc/a.yaml": null, fileSecrets: "/etc/a.yaml": null}
}
`)
	for envName, want := range map[string]map[string]model.SecretKeyRef{
		"production":   {"PASS": {Secret: "db", Key: "password"}, "KEY": {Secret: "api", Key: "key"}},
		"ci":           {"PASS": {Secret: "ci-db", Key: "password"}, "KEY": {Secret: "api", Key: "key"}},
		"development":  {"PASS": {Secret: "db", Key: "password"}},
		"staging":      nil,
		"staging-beta": nil,
	} {
		s := env(t, p, envName)
		if diff := cmp.Diff(want, s.FileSecrets["/etc/a.yaml"], cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: fileSecrets (-want +got):\n%s", envName, diff)
		}
		if got := s.HasSecrets("/etc/a.yaml"); got != (len(want) > 0) {
			t.Errorf("%s: HasSecrets = %v", envName, got)
		}
	}
}

func TestTagOption(t *testing.T) {
	src := header + `environments: production: digest: "sha256:` + strings.Repeat("c", 64) + `"`
	p, err := compiler.Compile("envgen.cue", []byte(src), compiler.Options{Tag: "abc123"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Environments {
		if got := e.Service.ImageRef(); got != "registry.example.org/svc:abc123" {
			t.Errorf("%s: image %s, want the --tag", e.Name, got)
		}
	}
	if got := p.Base.ImageRef(); got != "registry.example.org/svc:1.0" {
		t.Errorf("base image %s: --tag must not change the base", got)
	}
}

// The image envgen run built replaces the service's image, by digest and
// in the repository it was pushed to, wherever --tag would retag it: the
// build, a container of the same repository; not a proxy of another image
// or a test service.
func TestDigestOption(t *testing.T) {
	built := "sha256:" + strings.Repeat("d", 64)
	src := header + `
containers: {
	migrate: {kind: "init", command: ["migrate"]}
	proxy: {kind: "proxy", image: "registry.example.org/envoy", tag: "1.31"}
}
ci: {command: ["make", "test"], tag: "ci-only", services: db: {image: "registry.example.org/postgres", tag: "16"}}
environments: production: tag: "2.0"
`
	p, err := compiler.Compile("envgen.cue", []byte(src), compiler.Options{Digest: built, Repository: "ci-registry.example.org/builds/svc"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Environments {
		s := e.Service
		if got, want := s.ImageRef(), "ci-registry.example.org/builds/svc@"+built; got != want {
			t.Errorf("%s: image %s, want %s", e.Name, got, want)
		}
		if c := s.Containers["migrate"]; c.Image != "" || c.Tag != "" || c.Digest != "" {
			t.Errorf("%s: the init container of the service's image keeps %+v", e.Name, c)
		}
		if c := s.Containers["proxy"]; c.Image != "registry.example.org/envoy" || c.Tag != "1.31" {
			t.Errorf("%s: the proxy lost its own image: %+v", e.Name, c)
		}
		if s.CI != nil && (s.CI.Tag != "" || s.CI.Services["db"].Tag != "16") {
			t.Errorf("%s: ci %+v", e.Name, s.CI)
		}
	}
	if _, err := compiler.Compile("envgen.cue", []byte(src), compiler.Options{Digest: "sha256:short"}); err == nil {
		t.Error("a malformed digest was accepted")
	}
}

func TestFileTooLarge(t *testing.T) {
	_, err := compiler.Compile("envgen.cue", make([]byte, compiler.MaxFileSize+1), compiler.Options{})
	if err == nil || !strings.Contains(err.Error(), "more than the limit") {
		t.Fatalf("got %v", err)
	}
}
