package casegen

// The ci section: the build, its Secrets and artifacts, and the test
// services (Deployments, or native sidecars of the build Pod).

func (g *gen) ci(top bool) obj {
	ci := obj{}
	if g.chance(0.3) {
		ci["image"] = "registry.example.org/team/builder"
		ci["tag"] = "2.0"
	} else if g.chance(0.2) {
		g.pin(ci, false)
	}
	if top && g.chance(0.25) {
		g.stages = g.subset([]string{"lint", "unit", "integration"}, true)
	}
	switch {
	case len(g.stages) > 0 && top:
		ci["stages"] = g.topStages()
	case len(g.stages) > 0:
		if g.chance(0.4) {
			ci["stages"] = g.envStages()
		}
	case top || g.chance(0.3):
		ci["command"] = g.args(1, 3, "make")
	}
	if g.chance(0.3) {
		ci["args"] = g.args(0, 2, "-v")
	}
	if g.chance(0.4) {
		env := obj{}
		for _, name := range g.subset([]string{"CI", "DB_HOST", "API_TOKEN"}, true) {
			env[name] = g.envValue()
		}
		if g.chance(0.3) {
			// Drops one the build would inherit from the service.
			env[g.pick(envPool)] = nil
		}
		ci["env"] = env
	}
	if g.chance(0.25) {
		// Under /tmp, where every build can write; the generator's writable
		// paths vary by layer.
		ci["artifacts"] = []any{"/tmp/reports", "/tmp/coverage.out"}[:1+g.intn(2)]
	}
	if g.chance(0.3) {
		secrets := obj{}
		for _, name := range g.subset([]string{"svc-secrets", "wmf.ca-bundle", "db"}, true) {
			secrets[name] = []any{"token", "tls.crt"}[:1+g.intn(2)]
		}
		ci["secrets"] = secrets
	}
	if g.chance(0.5) {
		ci["timeout"] = g.pick([]string{"90s", "15m", "1h", "1h30m"})
	}
	if g.chance(0.4) {
		ci["resources"] = g.resources()
	}
	if g.chance(0.3) {
		ci["annotations"] = obj{"example.org/build": g.pick([]string{"yes", "x"})}
	}
	if g.chance(0.6) {
		services := obj{}
		for _, name := range g.subset([]string{"db", "cache", "zotero"}, true) {
			services[name] = g.testService(name)
		}
		ci["services"] = services
	}
	return ci
}

func (g *gen) testService(name string) obj {
	ts := obj{"image": g.pick([]string{"docker-registry.example.org/postgres", "registry.example.org/redis"})}
	if g.chance(0.3) {
		ts["localhost"] = true
	}
	g.pin(ts, false)
	var ports []string
	if g.chance(0.7) {
		p := obj{}
		for i, port := range g.subset([]string{"db", "redis", "web"}, true) {
			if ts["localhost"] == true {
				// Port names are unique in the build Pod its sidecars share.
				port = name + "-" + port
			}
			p[port] = 5000 + 100*i + g.intn(99)
			ports = append(ports, port)
		}
		ts["ports"] = p
	}
	if g.chance(0.3) {
		ts["command"] = g.args(1, 2, "serve")
	}
	if g.chance(0.2) {
		ts["args"] = g.args(0, 2, "--x")
	}
	if g.chance(0.4) {
		ts["env"] = obj{"POSTGRES_PASSWORD": obj{"secret": "db", "key": "password"}, "MODE": "test"}
	}
	if g.chance(0.4) {
		ts["resources"] = g.resources()
	}
	if g.chance(0.6) {
		ts["readiness"] = g.probe(ports)
	}
	if g.chance(0.4) {
		ts["securityContext"] = g.securityContext()
	}
	if g.chance(0.3) {
		ts["writable"] = g.writable()
	}
	if g.chance(0.1) {
		ts["writableRoot"] = "the database image writes its socket under /run"
	}
	if sc, ok := ts["securityContext"].(obj); ok && ts["localhost"] == true {
		delete(sc, "fsGroup") // a Pod-level setting, refused for a sidecar
	}
	return ts
}

// topStages are the top level's stages: each needs some of those before
// it in the list, so the graph has no circle.
func (g *gen) topStages() obj {
	stages := obj{}
	for i, name := range g.stages {
		stage := obj{"command": g.args(1, 2, name)}
		if needs := g.subset(g.stages[:i], false); len(needs) > 0 {
			stage["needs"] = toAny(needs)
		}
		if g.chance(0.3) {
			stage["env"] = obj{"STAGE": name}
		}
		if g.chance(0.2) {
			stage["image"] = "registry.example.org/team/" + name
			stage["tag"] = "3.1"
		}
		stages[name] = stage
	}
	return stages
}

// envStages change some of the top level's stages in an environment, or
// add one that needs them.
func (g *gen) envStages() obj {
	stages := obj{}
	for _, name := range g.subset(g.stages, false) {
		stage := obj{}
		switch g.intn(3) {
		case 0:
			stage["command"] = g.args(1, 2, name+"-"+g.pick([]string{"fast", "full"}))
		case 1:
			stage["env"] = obj{"STAGE": nil, "LEVEL": g.pick([]string{"1", "2"})}
		default:
			stage["args"] = g.args(0, 2, "--flag")
		}
		stages[name] = stage
	}
	if g.chance(0.3) {
		stages["smoke"] = obj{"command": g.args(1, 2, "smoke"), "needs": toAny(g.subset(g.stages, true))}
	}
	return stages
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
