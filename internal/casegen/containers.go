package casegen

import "slices"

// containerPool are the Pod's other containers a case may have: one of
// each kind, each with a port name and number range of its own (never
// those of portPool), so that no two containers of a Pod clash.
var containerPool = []struct {
	name, kind, port string
	base             int
}{
	{"envoy", "proxy", "tls-proxy", 6000},
	{"exporter", "sidecar", "prom", 7000},
	{"migrate", "init", "", 0},
}

// containers are the Pod's other containers: whole at the top level (or
// for a name the top level lacks), changed or dropped (null) in an
// environment.
func (g *gen) containers(top bool) obj {
	out := obj{}
	for _, c := range containerPool {
		if !g.chance(0.5) {
			continue
		}
		switch {
		case top:
			out[c.name] = g.wholeContainer(c.name, c.kind, c.port, c.base)
			g.topContainers = append(g.topContainers, c.name)
		case slices.Contains(g.topContainers, c.name) && g.chance(0.15):
			out[c.name] = nil
		case slices.Contains(g.topContainers, c.name):
			out[c.name] = g.containerChange(c.name)
		default:
			out[c.name] = g.wholeContainer(c.name, c.kind, c.port, c.base)
		}
	}
	return out
}

// wholeContainer sets every field its kind allows, some by chance.
func (g *gen) wholeContainer(name, kind, port string, base int) obj {
	c := obj{}
	if kind != "sidecar" || g.chance(0.5) {
		c["kind"] = kind
	}
	switch {
	case kind == "init" && g.chance(0.5):
		// The service's own image: no image, tag or digest.
	case kind == "init":
		c["tag"] = g.pick([]string{"1.0", "migrations-7"})
	default:
		c["image"] = "registry.example.org/sidecars/" + name
		g.pin(c, false)
	}
	c["command"] = g.args(1, 2, "/usr/bin/"+name)
	if g.chance(0.4) {
		c["args"] = g.args(0, 2, "--"+name)
	}
	if port != "" {
		c["ports"] = obj{port: base + g.intn(999) + 1}
		if g.chance(0.6) {
			c["probes"] = obj{g.pick([]string{"readiness", "liveness", "startup"}): g.probe([]string{port})}
		}
	}
	g.containerFields(c, name)
	if g.chance(0.4) {
		c["mounts"] = obj{"/etc/" + name + "/tls": obj{"secret": "svc-tls", "items": obj{"tls.crt": "cert.pem"}}}
	}
	if kind != "init" && g.chance(0.25) {
		// An exec: a sleep must end within the grace period, which a
		// layer may make short.
		c["preStop"] = obj{"exec": obj{"command": []any{"/usr/bin/" + name, "--drain"}}}
	}
	return c
}

// containerChange overrides some of a top-level container's fields.
func (g *gen) containerChange(name string) obj {
	c := obj{}
	if g.chance(0.4) {
		g.pin(c, false)
	}
	if g.chance(0.3) {
		c["args"] = g.args(0, 2, "--"+name)
	}
	g.containerFields(c, name)
	return c
}

// containerFields are the fields any layer may change of any container.
func (g *gen) containerFields(c obj, name string) {
	if g.chance(0.2) {
		c["inJobs"] = g.chance(0.5)
	}
	if g.chance(0.5) {
		env := obj{}
		for _, v := range g.subset([]string{"LOG_LEVEL", "UPSTREAM", "TOKEN"}, true) {
			env[v] = g.envValue()
		}
		if g.chance(0.2) {
			env["LOG_LEVEL"] = nil
		}
		c["env"] = env
	}
	if g.chance(0.5) {
		c["resources"] = g.resources()
	}
	if g.chance(0.3) {
		c["writable"] = obj{"/var/cache/" + name: obj{"sizeLimit": g.pick([]string{"64Mi", "1Gi"})}}
	}
	if g.chance(0.1) {
		c["writableRoot"] = "the exporter writes its state beside the binary"
	}
	if len(g.topFiles) > 0 && g.chance(0.3) {
		c["files"] = stringsToAny(g.subset(g.topFiles, true))
	}
	if g.chance(0.3) {
		c["securityContext"] = obj{"runAsUser": 1000 + g.intn(1000)}
	}
}

func stringsToAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
