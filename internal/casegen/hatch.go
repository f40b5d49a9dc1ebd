package casegen

// The escape hatch: patches of the generated Deployment, objects added as
// they are (changed or dropped with null in an environment).

// patches patch the Deployment, which every environment generates.
func (g *gen) patches() obj {
	spec := obj{}
	patch := obj{}
	for _, kind := range g.subset([]string{"deadline", "dns", "container", "annotation", "drop"}, true) {
		switch kind {
		case "deadline":
			spec["progressDeadlineSeconds"] = 300 + g.intn(600)
		case "dns":
			spec["template"] = obj{"spec": obj{"dnsPolicy": g.pick([]string{"Default", "ClusterFirst"})}}
		case "container":
			// A list merged by name: only the main container's field.
			spec["template"] = obj{"spec": obj{"containers": []any{obj{"name": g.name, "terminationMessagePolicy": "FallbackToLogsOnError"}}}}
		case "annotation":
			patch["metadata"] = obj{"annotations": obj{"example.org/patched": g.pick([]string{"yes", "by envgen.cue"})}}
		case "drop":
			spec["template"] = obj{"spec": obj{"enableServiceLinks": nil}}
		}
	}
	if len(spec) > 0 {
		patch["spec"] = spec
	}
	return obj{"Deployment/" + g.name: patch}
}

// objects adds a ServiceAccount, a ConfigMap and a Role, or drops one an
// earlier layer added.
func (g *gen) objects(top bool) obj {
	out := obj{}
	for _, kind := range g.subset([]string{"ServiceAccount", "ConfigMap", "Role"}, true) {
		var o obj
		switch kind {
		case "ServiceAccount":
			o = obj{"apiVersion": "v1", "metadata": obj{"annotations": obj{"example.org/owner": g.pick([]string{"team-a", "team-b"})}}}
		case "ConfigMap":
			o = obj{"apiVersion": "v1", "data": obj{"mode": g.pick([]string{"a", "b"}), "extra.conf": "x = 1\n"}}
		case "Role":
			verbs := []any{"get"}
			if g.chance(0.5) {
				verbs = append(verbs, "list", "watch")
			}
			o = obj{"apiVersion": "rbac.authorization.k8s.io/v1", "rules": []any{obj{"apiGroups": []any{""}, "resources": []any{"configmaps"}, "verbs": verbs}}}
		}
		key := kind + "/" + g.name + "-extra"
		if !top && g.chance(0.2) {
			out[key] = nil
			continue
		}
		out[key] = o
	}
	return out
}
