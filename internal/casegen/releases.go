package casegen

import (
	"fmt"
	"sort"
)

// releaseFields are what the generator writes in a release, beside the
// fields of #Release's own (environments, traffic): a release's layer is
// #Settings, and these are the ones a canary or a second instance changes.
// The coverage test wants each in some case.
var releaseFields = []string{
	"environments", "traffic", "tag", "digest", "replicas", "args", "env.*",
	"annotations.*", "files.*", "autoscale", "disruptionBudget", "service", "ingress", "in",
}

// ReleaseFields lists the fields the generator writes in releases.
func ReleaseFields() []string { return releaseFields }

// releases returns one or two releases over the environments of envs (not
// ci): a canary sharing the main Service, an instance with its own. Valid
// by construction: they keep the ports the shared Service sends them
// (they change no port), and a Service of their own gets node ports no
// other Service has.
func (g *gen) releases(envs obj) obj {
	var names []string
	for name := range envs {
		if name != "ci" {
			names = append(names, name)
		}
	}
	for _, std := range []string{"development", "staging", "production"} {
		if _, ok := envs[std]; !ok {
			names = append(names, std)
		}
	}
	sort.Strings(names)
	out := obj{}
	for i, name := range g.subset([]string{"canary", "internal"}, true) {
		r := obj{"environments": stringsToAny(g.subset(names, true))}
		own := name == "internal" && g.chance(0.7)
		if own {
			r["traffic"] = "own"
			if g.nodePorts || g.chance(0.3) {
				r["service"] = g.ownServiceShape(i)
			}
		} else if g.chance(0.3) {
			r["traffic"] = "shared"
		}
		if g.chance(0.6) {
			g.pin(r, false)
		}
		if g.chance(0.5) {
			r["replicas"] = g.intn(3)
		}
		if g.chance(0.3) {
			r["args"] = g.args(1, 2, "--"+name)
		}
		if g.chance(0.5) {
			r["env"] = obj{"RELEASE": name, g.pick(envPool): "from-" + name}
		}
		if g.chance(0.3) {
			r["annotations"] = obj{"example.org/release": name}
		}
		if len(g.topFiles) > 0 && g.chance(0.3) {
			r["files"] = obj{g.pick(g.topFiles): fmt.Sprintf("release: %s\n", name) + secretPlaceholders}
		}
		if g.chance(0.4) {
			r["autoscale"] = nil
		} else if g.chance(0.3) {
			r["autoscale"] = obj{"min": 1, "max": 2 + g.intn(3)}
		}
		if g.chance(0.4) {
			r["disruptionBudget"] = nil
		}
		if g.chance(0.2) {
			r["ingress"] = g.ingress()
		}
		if g.chance(0.3) {
			// What differs in one environment it runs in (a datacentre's).
			listed := r["environments"].([]any)
			in := obj{}
			for _, env := range listed {
				if g.chance(0.6) {
					in[env.(string)] = obj{"env": obj{"DATACENTRE": env.(string) + "-" + name}, "annotations": obj{"example.org/in": env.(string)}}
				}
			}
			if len(in) > 0 {
				r["in"] = in
			}
		}
		out[name] = r
	}
	return out
}

// ownServiceShape shapes a release's own Service: in a case with node
// ports, every port of the top level gets one no other Service has.
func (g *gen) ownServiceShape(release int) obj {
	if !g.nodePorts {
		return obj{"type": g.pick([]string{"ClusterIP", "Headless"})}
	}
	ports := obj{}
	if g.chance(0.3) {
		// A ClusterIP Service of its own, without the node ports the
		// environment fixes.
		for _, name := range g.portNames {
			ports[name] = obj{"nodePort": nil}
		}
		return obj{"type": "ClusterIP", "ports": ports}
	}
	for i, name := range g.portNames {
		ports[name] = obj{"nodePort": 30500 + 100*release + i}
	}
	return obj{"type": g.pick([]string{"NodePort", "LoadBalancer"}), "ports": ports}
}
