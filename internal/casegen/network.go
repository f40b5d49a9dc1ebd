package casegen

// The network: the Service in front of the Pods, who may reach them
// (ingress), and where they may connect (egress).

// ingress names sources by every kind of peer; ports by the top level's
// port names (which every environment keeps) or numbers (an environment
// that renumbers the port then makes the rule an error).
func (g *gen) ingress() obj {
	in := obj{}
	for _, name := range g.subset([]string{"mesh", "prometheus", "lb", "anyone"}, true) {
		rule := obj{}
		if name != "anyone" {
			if g.chance(0.4) {
				rule["cidrs"] = []any{g.pick([]string{"10.2.0.0/16", "172.16.0.0/12"})}
			}
			if g.chance(0.5) {
				rule["namespaces"] = []any{g.pick([]string{"istio-system", "monitoring"})}
			}
			if g.chance(0.4) || len(rule) == 0 {
				rule["pods"] = obj{"app": g.pick([]string{"gateway", "prometheus"})}
			}
		}
		if g.chance(0.7) {
			switch {
			case len(g.portNames) > 0 && g.chance(0.85):
				rule["ports"] = []any{g.pick(g.portNames)}
			case len(g.topPorts) > 0:
				rule["ports"] = []any{g.topPorts[g.intn(len(g.topPorts))]}
			}
		}
		if g.chance(0.25) {
			// Above every port the generator declares (portPool's thousands).
			undeclared := obj{}
			for _, n := range g.subset([]string{"15090", "19361"}, true) {
				undeclared[n] = "a sidecar the cluster injects serves metrics here"
			}
			rule["undeclaredPorts"] = undeclared
		}
		in[name] = rule
	}
	return in
}

func (g *gen) egress() obj {
	e := obj{}
	for _, name := range g.subset([]string{"db", "search", "zotero"}, true) {
		rule := obj{}
		if g.chance(0.6) {
			// Now and then an address inside a block (host bits set),
			// which the API server refuses and envgen must too.
			cidr := g.pick([]string{"10.64.32.0/24", "192.168.0.0/16", "10.0.0.1/32", "10.0.0.0/8", "172.16.0.0/12", "fd00::/8"})
			if g.chance(0.03) {
				cidr = "10.64.32.7/24"
				g.pastLimits = append(g.pastLimits, "a CIDR with host bits")
			}
			rule["cidrs"] = []any{cidr}
		}
		if g.chance(0.6) || len(rule) == 0 {
			rule["namespaces"] = []any{g.pick([]string{"redis", "zotero", "db"})}
		}
		if g.chance(0.3) {
			rule["pods"] = obj{"app.kubernetes.io/name": g.pick([]string{"redis", "db-proxy"})}
		}
		if g.chance(0.7) {
			rule["ports"] = []any{1 + g.intn(65535)}
		}
		if g.chance(0.3) {
			rule["protocol"] = g.pick([]string{"TCP", "UDP"})
		}
		e[name] = rule
	}
	return e
}

// serviceShape gives the Service a type and some of the top level's ports
// their own Service port (80 + the port's index, so none collide), node
// port and protocol.
func (g *gen) serviceShape() obj {
	shape := obj{}
	if g.nodePorts {
		shape["type"] = g.pick([]string{"NodePort", "LoadBalancer"})
	} else if g.chance(0.7) {
		shape["type"] = g.pick([]string{"ClusterIP", "Headless", "None"})
	}
	if g.chance(0.6) {
		ports := obj{}
		for i, name := range g.portNames {
			if !g.chance(0.6) {
				continue
			}
			p := obj{}
			if g.chance(0.5) {
				p["port"] = 80 + i
			}
			if g.nodePorts && g.chance(0.5) {
				p["nodePort"] = 30080 + i
			}
			if g.chance(0.3) {
				p["protocol"] = g.pick([]string{"TCP", "UDP"})
			}
			ports[name] = p
		}
		if len(ports) > 0 {
			shape["ports"] = ports
		}
	}
	return shape
}
