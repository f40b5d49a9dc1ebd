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
	kinds := []string{"ServiceAccount", "ConfigMap", "Role"}
	if g.customKinds {
		kinds = append(kinds, "Certificate", "NetworkPolicy")
	}
	for _, kind := range g.subset(kinds, true) {
		var o obj
		switch kind {
		case "Certificate": // cert-manager's: customKinds declares it
			o = obj{"apiVersion": "cert-manager.io/v1", "spec": obj{
				"secretName": g.name + "-tls", "dnsNames": []any{g.name + ".example.org"},
				"issuerRef": obj{"name": g.pick([]string{"discovery", "ca"}), "kind": g.pick([]string{"Issuer", "ClusterIssuer"})},
			}}
			if g.chance(0.3) {
				o["spec"].(obj)["duration"] = g.pick([]string{"2160h", "48h"})
			}
		case "NetworkPolicy": // Calico's, beside Kubernetes' own kind
			o = obj{"apiVersion": "crd.projectcalico.org/v1", "spec": obj{
				"selector": "app == '" + g.name + "'", "types": []any{g.pick([]string{"Ingress", "Egress"})},
			}}
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
		if kind == "Certificate" || kind == "NetworkPolicy" {
			key = kind + "/" + g.name + "-custom"
		}
		if !top && g.chance(0.2) {
			out[key] = nil
			continue
		}
		out[key] = o
	}
	return out
}
