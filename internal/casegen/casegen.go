// Package casegen writes random envgen.cue files for differential tests:
// every field of the schema, in every layer (top level, the standard
// environments, custom ones extending each other two and three deep, ci),
// with the transitions users write between layers — a probe switching
// handler, a port renumbered, a variable switching between a literal, a
// Secret and a ConfigMap, a list emptied or shortened, a tag replaced by a
// digest, files added, objects only some environments have.
//
// The files are valid by construction (they pass envgen's schema and
// cross-field rules), so that a test can hold envgen to its promise on
// each: the kustomize tree builds into what envgen compiled, and
// kube-apiserver accepts every object. A few values sit just past a limit
// kube-apiserver sets (an address with host bits for a block, a time zone
// of "Local", a key's name of 64): envgen must refuse those at their
// position, or the API server refuses what envgen accepted. A seed gives the same file on every
// machine.
package casegen

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"envgen.dev/envgen/internal/sorted"
)

// Case is one generated envgen.cue.
type Case struct {
	Seed uint64
	// Source is the CUE text: JSON, with file modes in octal.
	Source []byte
	// PastLimits names the values of Source that sit just past a limit
	// kube-apiserver sets, which envgen must refuse (none in most cases).
	PastLimits []string
	// tree is what Source says, for the coverage walk.
	tree obj
}

// New returns the case of a seed.
func New(seed uint64) Case {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	tree := g.service()
	src, err := json.MarshalIndent(tree, "", "\t")
	if err != nil {
		panic(err) // maps of strings, numbers and lists always marshal
	}
	// Modes in octal, as a person writes them in CUE (JSON has no octal).
	src = modeField.ReplaceAllFunc(src, func(m []byte) []byte {
		n, _ := strconv.Atoi(string(modeField.FindSubmatch(m)[1]))
		return fmt.Appendf(nil, `"mode": 0o%o`, n)
	})
	return Case{Seed: seed, Source: append(src, '\n'), PastLimits: g.pastLimits, tree: tree}
}

var modeField = regexp.MustCompile(`"mode": ([0-9]+)`)

type obj = map[string]any

type gen struct {
	r *rand.Rand
	// pastLimits are the values planted past a limit (Case.PastLimits).
	pastLimits []string
	// portNames are the top level's ports: probes may name them in every
	// environment, since environments can add and renumber ports but not
	// remove them.
	portNames []string
	// topPorts are their numbers, which an ingress rule may name instead
	// (an environment that renumbers one makes that rule an error).
	topPorts []int
	// pdbKind is the one disruption budget field every layer uses: the
	// layers merge field by field, and both set is an error.
	pdbKind string
	// stages are the top level's ci.stages, when the build is staged:
	// environments may change them and add one that needs them, never
	// give ci.command (which stages exclude).
	stages []string
	// nodePorts says whether the case's Services have node ports: every
	// layer then picks NodePort or LoadBalancer, else one of the others,
	// so that no layer leaves a node port on a type without them.
	nodePorts bool
	// topJobs are the top level's scheduled jobs: environments change
	// them, or add whole ones.
	topJobs []string
	// topFiles are the top level's config files, which every environment
	// has: a container may mount them.
	topFiles []string
	// renderer: the top level sets fileRenderer, so layers may set
	// fileSecrets.
	renderer bool
	// customKinds: the top level declares cert-manager's Certificate and
	// Calico's NetworkPolicy, so objects may add them.
	customKinds bool
	// topContainers are the top level's other containers: environments
	// change or drop them, or add whole ones.
	topContainers []string
	// name is the service's name: patches and objects name objects by it.
	name string
	// jobsOnly cases have deployment: false at the top level: no layer
	// sets what shapes the Deployment, and the top level has jobs.
	jobsOnly bool
	// builds: the top level has a build section, which environments
	// may refine.
	builds bool
}

var (
	portPool = []string{"http", "metrics", "admin", "grpc", "debug"}
	envPool  = []string{"LOG_LEVEL", "DB_HOST", "API_TOKEN", "FEATURES", "MODE", "CACHE_URL", "WORKERS"}
	filePool = []string{"/etc/svc/config.yaml", "/etc/svc/robots.txt", "/srv/app/settings.json", "/etc/svc/extra.conf", "/etc/proxy/config.yaml"}
	custom   = [][2]string{ // name, extends
		{"production-eqiad", "production"},
		{"production-codfw", "production"},
		{"production-eqiad-canary", "production-eqiad"},
		{"staging-beta", "staging"},
		{"staging-beta-one", "staging-beta"},
	}
)

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }
func (g *gen) intn(n int) int        { return g.r.IntN(n) }
func (g *gen) pick(s []string) string {
	return s[g.intn(len(s))]
}

// subset returns a random non-empty subset of s when nonEmpty, in order.
func (g *gen) subset(s []string, nonEmpty bool) []string {
	for {
		var out []string
		for _, v := range s {
			if g.chance(0.4) {
				out = append(out, v)
			}
		}
		if len(out) > 0 || !nonEmpty {
			return out
		}
	}
}

func (g *gen) service() obj {
	g.portNames = g.subset(portPool[:3], false)
	g.pdbKind = g.pick([]string{"minAvailable", "maxUnavailable"})
	g.nodePorts = g.chance(0.3)
	g.name = g.pick([]string{"svc", "citoid", "web-api", "a"})
	s := obj{
		"name":  g.name,
		"image": g.pick([]string{"registry.example.org/team/svc", "docker-registry.example.org/wikimedia/app", "quay.example.com:5000/x/y"}),
	}
	g.pin(s, true)
	ports := obj{}
	g.topPorts = nil
	for _, name := range g.portNames {
		ports[name] = g.port(name)
		g.topPorts = append(g.topPorts, ports[name].(int))
	}
	if len(ports) > 0 {
		s["ports"] = ports
	}
	g.jobsOnly = g.chance(0.08)
	if g.customKinds = g.chance(0.3); g.customKinds {
		s["customKinds"] = obj{
			"Certificate":   obj{"apiVersion": "cert-manager.io/v1", "scope": "Namespaced"},
			"NetworkPolicy": obj{"apiVersion": "crd.projectcalico.org/v1", "scope": "Namespaced"},
		}
	}
	g.settings(s, true)
	// A container may mount the service account's token where the top
	// level has one (no layer can drop it).
	if sa, ok := s["serviceAccount"].(obj); ok && sa["token"] != nil {
		if containers, ok := s["containers"].(obj); ok {
			for _, name := range sorted.Keys(containers) {
				if c, ok := containers[name].(obj); ok && g.chance(0.5) {
					c["token"] = true
				}
			}
		}
	}
	if g.jobsOnly {
		s["deployment"] = false
		if _, ok := s["jobs"]; !ok {
			s["jobs"] = g.jobs(true)
		}
	}
	if g.chance(0.8) {
		s["ci"] = g.ci(true)
	}
	g.builds = g.chance(0.4)
	if g.builds {
		s["build"] = g.build(true)
	}
	s["environments"] = g.environments()
	if !g.jobsOnly && g.chance(0.3) {
		s["releases"] = g.releases(s["environments"].(obj))
	}
	if g.chance(0.25) {
		s["pins"], s["pinned"] = g.pins(s["environments"].(obj))
	}
	if g.chance(0.3) {
		s["vet"] = obj{"off": obj{"EG004": "staging runs one replica on purpose"}}
	}
	return s
}

// port returns a number for a port name from a range of its own, so that
// renumbering never makes two ports share a number.
func (g *gen) port(name string) int {
	return 1000*(1+slices.Index(portPool, name)) + g.intn(999) + 1
}

// pin sets a tag or a digest (one of them, as a layer must).
func (g *gen) pin(s obj, top bool) {
	delete(s, "tag")
	delete(s, "digest")
	if g.chance(0.25) {
		s["digest"] = fmt.Sprintf("sha256:%064x", g.r.Uint64())
		return
	}
	s["tag"] = g.pick([]string{"1.0", "v2.3.1", "2026-11-01-173921-production", "0f3c2a1"})
}

// settings fills the fields the top level and environments share; top says
// whether this is the top level (which sets more, more often).
func (g *gen) settings(s obj, top bool) {
	p := 0.3
	if top {
		p = 0.7
	}
	if g.chance(p / 2) {
		s["command"] = g.args(0, 3, "/usr/bin/svc")
	}
	if g.chance(p / 3) {
		sched := obj{}
		if g.chance(0.6) {
			sched["nodeSelector"] = obj{"node.kubernetes.io/pool": g.pick([]string{"ci", "web", ""}), "kubernetes.io/arch": "amd64"}
		}
		if g.chance(0.5) {
			tolerations := []any{obj{"key": "dedicated", "operator": "Equal", "value": g.pick([]string{"ci", "web"}), "effect": "NoSchedule"}}
			if g.chance(0.5) {
				tolerations = append(tolerations, obj{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30})
			}
			sched["tolerations"] = tolerations
		}
		if g.chance(0.3) {
			sched["priorityClassName"] = g.pick([]string{"high", "ci.low"})
		}
		if g.chance(0.5) {
			sched["spread"] = [][]any{{"zone"}, {"host"}, {"zone", "host"}, {"host", "zone"}}[g.intn(4)]
		}
		if g.chance(0.4) {
			sched["affinity"] = g.affinity()
		} else if !top && g.chance(0.1) {
			sched["affinity"] = nil // drops a lower layer's
		}
		s["scheduling"] = sched
	}
	if g.chance(p / 4) {
		c := obj{"server": g.pick([]string{"https://k8s.example.org:6443", "https://10.0.0.1/k8s"})}
		if g.chance(0.5) {
			c["uid"] = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
		}
		if g.chance(0.3) {
			// The test cluster's own range: kube-apiserver refuses others.
			c["nodePorts"] = obj{"min": 30000, "max": 32767}
		}
		s["cluster"] = c
	}
	if g.chance(p / 2) {
		s["args"] = g.args(0, 4, "--flag")
	}
	if g.chance(p) {
		env := obj{}
		for _, name := range g.subset(envPool, true) {
			env[name] = g.envValue()
			if !top && g.chance(0.15) {
				env[name] = nil // drops what a lower layer set
			}
		}
		s["env"] = env
	}
	if g.chance(p / 2) {
		files := obj{}
		for _, f := range g.subset(filePool, true) {
			files[f] = g.pick([]string{"a: 1\n", "User-agent: *\n", "{\"x\": true}\n", "line\nline 2\n"}) + secretPlaceholders
			if !top && !slices.Contains(g.topFiles, f) && g.chance(0.2) {
				files[f] = nil // drops one an environment it extends added
			}
		}
		s["files"] = files
		if top {
			g.topFiles = sorted.Keys(files)
		}
	}
	g.fileSecrets(s, top)
	if g.chance(p) {
		s["resources"] = g.resources()
	} else if !top && g.chance(0.05) {
		s["resources"] = nil // drops what a lower layer set
	}
	if g.chance(p) {
		s["probes"] = g.probes()
	} else if !top && g.chance(0.05) {
		s["probes"] = obj{g.pick([]string{"liveness", "startup"}): nil} // drops a lower layer's
	}
	if g.chance(p / 2) {
		s["replicas"] = g.intn(5)
	}
	if g.jobsOnly && !top && g.chance(0.3) {
		s["deployment"] = g.chance(0.5)
	}
	if !g.jobsOnly && g.chance(p/3) {
		low := 1 + g.intn(4)
		a := obj{"min": low, "max": low + g.intn(6)}
		if g.chance(0.5) {
			a["cpuPercent"] = 10 + g.intn(90)
		}
		s["autoscale"] = a
	} else if !top && !g.jobsOnly && g.chance(0.05) {
		s["autoscale"] = nil // drops the top level's
	}
	if !g.jobsOnly && g.chance(p/3) {
		var v any = g.intn(3)
		if g.chance(0.5) {
			v = fmt.Sprintf("%d%%", 10*(1+g.intn(9)))
		}
		s["disruptionBudget"] = obj{g.pdbKind: v}
	} else if !top && !g.jobsOnly && g.chance(0.05) {
		s["disruptionBudget"] = nil
	}
	if g.chance(p / 3) { // holds the jobs' Pods too, with or without a Deployment
		s["egress"] = g.egress()
	} else if !top && g.chance(0.05) {
		s["egress"] = obj{g.pick([]string{"db", "search", "zotero"}): nil} // drops the rule, if a layer below has it
	} else if !top && g.chance(0.03) {
		s["egress"] = nil // drops every rule
	}
	if !g.jobsOnly && g.chance(p/3) {
		s["ingress"] = g.ingress()
	} else if !top && !g.jobsOnly && g.chance(0.05) {
		s["ingress"] = obj{g.pick([]string{"mesh", "prometheus", "lb", "anyone"}): nil}
	} else if !top && !g.jobsOnly && g.chance(0.03) {
		// Drops one undeclared port, if a layer below has it (and refused
		// where it was the rule's last port).
		s["ingress"] = obj{g.pick([]string{"mesh", "prometheus", "lb", "anyone"}): obj{"undeclaredPorts": obj{g.pick([]string{"15090", "19361"}): nil}}}
	} else if !top && !g.jobsOnly && g.chance(0.03) {
		s["ingress"] = nil // drops every rule
	}
	if !g.jobsOnly && len(g.portNames) > 0 && g.chance(p/3) {
		s["service"] = g.serviceShape()
	}
	if g.chance(p / 4) {
		s["mounts"] = g.mounts()
		if !top && g.chance(0.2) {
			s["mounts"] = obj{g.pick([]string{"/etc/ssl/wmf", "/etc/svc/tls", "/srv/secrets"}): nil}
		}
	}
	if g.chance(p / 4) {
		s["jobs"] = g.jobs(top)
	}
	if g.chance(p / 3) {
		s["containers"] = g.containers(top)
	}
	if !g.jobsOnly && g.chance(p/5) {
		s["patches"] = g.patches()
	}
	if g.chance(p / 5) {
		s["objects"] = g.objects(top)
	}
	if !g.jobsOnly && g.chance(p/3) {
		r := obj{}
		// Never both zero: one of them is always at least 1.
		if g.chance(0.6) {
			r["maxSurge"] = []any{1, 2, "25%", "50%"}[g.intn(4)]
		}
		if g.chance(0.6) {
			r["maxUnavailable"] = []any{0, 1, "0%", "10%"}[g.intn(4)]
		}
		if g.chance(0.4) {
			r["minReadySeconds"] = []any{0, 5, 30}[g.intn(3)]
		}
		if g.chance(0.4) {
			r["revisionHistoryLimit"] = []any{0, 3, 10}[g.intn(3)]
		}
		s["rollout"] = r
	}
	if g.chance(p / 2) {
		a := obj{}
		// Keys at Kubernetes' limits: a name of 63 (accepted) or 64
		// (refused) characters, a prefix of many parts.
		keys := []string{"prometheus.io/port", "example.org/team", "note", "a.b.c.example.org/" + strings.Repeat("n", 63)}
		if g.chance(0.03) {
			keys = append(keys, "example.org/"+strings.Repeat("n", 64))
			g.pastLimits = append(g.pastLimits, "an annotation key's name of 64 characters")
		}
		for _, k := range g.subset(keys, true) {
			a[k] = g.pick([]string{"9102", "search", "a value with spaces", ""})
			if !top && g.chance(0.15) {
				a[k] = nil // drops what a lower layer set
			}
		}
		s["annotations"] = a
	}
	if g.chance(p / 3) {
		l := obj{}
		for _, k := range g.subset([]string{"app", "release", "routed_via", "example.org/team"}, true) {
			l[k] = g.pick([]string{"svc", "main", "canary", "a.b-c_d"})
			if !top && g.chance(0.2) {
				l[k] = nil // drops what a lower layer set
			}
		}
		s["labels"] = l
	}
	if g.chance(p / 3) {
		sa := obj{}
		if g.chance(0.5) {
			sa["name"] = g.pick([]string{"svc-runner", "deployer", "system.svc-reader"})
		}
		sa["automountToken"] = g.chance(0.5)
		if g.chance(0.4) {
			token := obj{"path": g.pick([]string{"/var/run/secrets/tokens/vault", "/var/run/secrets/tokens/mesh"})}
			if g.chance(0.6) {
				token["audience"] = g.pick([]string{"vault", "https://mesh.example.org"})
			}
			if g.chance(0.5) {
				token["expirationSeconds"] = []any{600, 3600, 7200}[g.intn(3)]
			}
			sa["token"] = token
		}
		s["serviceAccount"] = sa
	}
	if g.chance(p / 2) {
		s["securityContext"] = g.securityContext()
	}
	if g.chance(p / 3) {
		s["writable"] = g.writable()
		if !top && g.chance(0.2) {
			s["writable"] = obj{g.pick([]string{"/var/cache/app", "/var/lib/data", "/run/app", "/srv/scratch"}): nil}
		}
	}
	if g.chance(p / 6) {
		s["writableRoot"] = "the image writes its PID file beside the binary"
	} else if !top && g.chance(0.05) {
		s["writableRoot"] = nil // drops a lower layer's
	}
	if g.chance(p / 3) {
		s["terminationGracePeriodSeconds"] = g.intn(120)
	}
	if g.chance(p / 3) {
		if g.chance(0.5) {
			s["preStop"] = obj{"sleep": 1 + g.intn(20)}
		} else {
			s["preStop"] = obj{"exec": obj{"command": g.args(1, 3, "drain")}}
		}
	}
	if g.chance(p / 4) {
		g.pin(s, top)
	}
	if !top && g.chance(p/6) {
		s["image"] = "registry.example.org/team/other"
	}
	if !top && g.chance(p/3) {
		ports := obj{}
		for _, name := range g.subset(portPool, true) {
			ports[name] = g.port(name)
			// Dropping a port the top level declares may leave a probe,
			// a rule or the Service naming it: refused at its position.
			if !slices.Contains(g.portNames, name) && g.chance(0.2) {
				ports[name] = nil
			} else if g.chance(0.03) {
				ports[name] = nil
			}
		}
		s["ports"] = ports
	}
}

func (g *gen) args(min, max int, stem string) []any {
	out := []any{}
	for i := range min + g.intn(max-min+1) {
		out = append(out, fmt.Sprintf("%s-%d", stem, i))
	}
	return out
}

func (g *gen) envValue() any {
	switch g.intn(3) {
	case 0:
		return obj{"secret": g.pick([]string{"svc-secrets", "wmf.ca-bundle", "db"}), "key": g.pick([]string{"token", "password", "tls.crt"})}
	case 1:
		return obj{"configMap": g.pick([]string{"svc-config", "features"}), "key": g.pick([]string{"flags", "level"})}
	}
	return g.pick([]string{"debug", "info", "", "redis://cache:6379", "$(HOME)/x", "42"})
}
