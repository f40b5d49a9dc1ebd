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

// affinity is a Kubernetes affinity of one to three kinds, each required
// or preferred, in the API's own words.
func (g *gen) affinity() obj {
	a := obj{}
	term := func() obj {
		t := obj{"topologyKey": g.pick([]string{"kubernetes.io/hostname", "topology.kubernetes.io/zone"})}
		if g.chance(0.7) {
			t["labelSelector"] = obj{"matchLabels": obj{"app.kubernetes.io/name": g.pick([]string{"svc", "cache"})}}
		} else {
			t["labelSelector"] = obj{"matchExpressions": []any{obj{"key": "app", "operator": g.pick([]string{"In", "NotIn"}), "values": []any{"db", "cache"}}}}
		}
		if g.chance(0.2) {
			t["namespaces"] = []any{"shared"}
		}
		return t
	}
	pods := func() obj {
		if g.chance(0.5) {
			return obj{"requiredDuringSchedulingIgnoredDuringExecution": []any{term()}}
		}
		return obj{"preferredDuringSchedulingIgnoredDuringExecution": []any{obj{"weight": 1 + g.intn(100), "podAffinityTerm": term()}}}
	}
	for _, kind := range g.subset([]string{"nodeAffinity", "podAffinity", "podAntiAffinity"}, true) {
		if kind != "nodeAffinity" {
			a[kind] = pods()
			continue
		}
		expr := obj{"key": "node.kubernetes.io/pool", "operator": g.pick([]string{"In", "NotIn", "Exists"})}
		if expr["operator"] != "Exists" {
			expr["values"] = []any{"web", "ci"}
		}
		selector := obj{"matchExpressions": []any{expr}}
		if g.chance(0.5) {
			a[kind] = obj{"requiredDuringSchedulingIgnoredDuringExecution": obj{"nodeSelectorTerms": []any{selector}}}
		} else {
			a[kind] = obj{"preferredDuringSchedulingIgnoredDuringExecution": []any{obj{"weight": 1 + g.intn(100), "preference": selector}}}
		}
	}
	return a
}
