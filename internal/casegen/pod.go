package casegen

// Resources, probes and ids: what every container of a case may have.

func (g *gen) resources() obj {
	// Requests must not exceed limits, in one layer or across layers (the
	// top level's limit, an environment's request): every request of these
	// pools is below every limit, in mixed units.
	list := func(cpu, memory, storage []string) obj {
		l := obj{}
		if g.chance(0.7) {
			l["cpu"] = g.pick(cpu)
		}
		if g.chance(0.7) {
			l["memory"] = g.pick(memory)
		}
		if g.chance(0.2) {
			l["ephemeral-storage"] = g.pick(storage)
		}
		return l
	}
	r := obj{}
	if g.chance(0.7) {
		r["requests"] = list([]string{"10m", "100m", "0.1"}, []string{"16Mi", "128Mi", "100M"}, []string{"10Mi", "100Mi"})
	}
	if g.chance(0.7) {
		r["limits"] = list([]string{"250m", "1", "2", "0.5"}, []string{"256Mi", "1Gi", "500M"}, []string{"1Gi", "200Mi"})
	}
	return r
}

func (g *gen) probes() obj {
	p := obj{}
	for _, kind := range g.subset([]string{"readiness", "liveness", "startup"}, true) {
		p[kind] = g.probe(g.portNames)
	}
	return p
}

func (g *gen) probe(ports []string) obj {
	portRef := func() any {
		if len(ports) > 0 && g.chance(0.7) {
			return g.pick(ports)
		}
		return 1 + g.intn(65535)
	}
	pr := obj{}
	switch g.intn(3) {
	case 0:
		h := obj{"path": g.pick([]string{"/healthz", "/", "/ready?full=1"}), "port": portRef()}
		if g.chance(0.3) {
			h["scheme"] = g.pick([]string{"HTTP", "HTTPS"})
		}
		pr["http"] = h
	case 1:
		pr["tcp"] = obj{"port": portRef()}
	default:
		pr["exec"] = obj{"command": g.args(1, 3, "check")}
	}
	for _, f := range []string{"initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold"} {
		if g.chance(0.3) {
			pr[f] = 1 + g.intn(30)
		}
	}
	return pr
}

func (g *gen) securityContext() obj {
	sc := obj{}
	for _, f := range []string{"runAsUser", "runAsGroup", "fsGroup"} {
		if g.chance(0.6) {
			sc[f] = 1 + g.intn(65000)
		}
	}
	return sc
}
