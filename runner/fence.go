package runner

import (
	"fmt"
	"net"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Egress is what a build's Pods may reach beyond their namespace.
type Egress struct {
	// Open lets them reach everything (run --egress open).
	Open bool
	// Allow are blocks of private addresses they may reach besides the
	// public ones (run --egress-allow: a package mirror, a registry).
	Allow []string
}

func (e Egress) String() string {
	switch {
	case e.Open:
		return "open"
	case len(e.Allow) > 0:
		return "to public addresses and " + strings.Join(e.Allow, ", ")
	}
	return "to public addresses only"
}

// privateBlocks are the addresses a build's Pods may not reach unless
// --egress-allow names them: the cluster's own networks (Pods, Services,
// nodes, the control plane), the cloud's metadata endpoint, whatever else
// runs on private addresses beside the cluster.
// Besides RFC 1918: carrier-grade NAT (100.64/10), link-local, loopback,
// "this network" (0/8), IETF protocol assignments (192.0.0/24), the
// benchmarking range (198.18/15), the reserved 240/4 (Pod ranges on some
// clouds), Azure's wire server; in IPv6 unique-local, link-local,
// loopback and NAT64 (64:ff9b::/96 reaches IPv4's metadata endpoint on an
// IPv6-only cluster).
var privateBlocks = map[string][]string{
	"0.0.0.0/0": {"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "168.63.129.16/32", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "240.0.0.0/4"},
	"::/0": {"::1/128", "64:ff9b::/96", "fc00::/7", "fe80::/10"},
}

// ParseEgressAllow checks one --egress-allow block with the API server's
// strict validation (apimachinery's, as the compiler checks envgen.cue's
// blocks), saying the block meant when an address in it was given.
func ParseEgressAllow(cidr string) error {
	_, block, err := net.ParseCIDR(cidr)
	if err != nil {
		return fmt.Errorf("%q is not an IP block (e.g. 10.64.0.0/16)", cidr)
	}
	if block.String() != cidr {
		return fmt.Errorf("%q is an address inside %s, not a block: give %s", cidr, block, block)
	}
	if errs := validation.IsValidCIDRForLegacyField(nil, cidr, true, nil); len(errs) > 0 {
		return fmt.Errorf("%q: %s", cidr, errs[0].Detail)
	}
	return nil
}

// Fence is what envgen puts in a build namespace before anything of the
// build's: a ResourceQuota of q (what every build Pod, test service and
// object workload share, so a Deployment of 2³¹ replicas gets 20 Pods,
// not a node); a LimitRange that gives a container without requests
// modest ones (the quota refuses a Pod without requests otherwise); and a
// NetworkPolicy that lets only the namespace's own Pods in, so that no
// build reaches another's test services, and lets them out to their own
// namespace, to DNS, and to public addresses only (builds fetch
// packages), never to the cluster's networks or the metadata endpoint
// unless egress says so.
func Fence(namespace string, q Quota, egress Egress) []*unstructured.Unstructured {
	meta := func(apiVersion, kind string) map[string]any {
		return map[string]any{
			"apiVersion": apiVersion, "kind": kind,
			"metadata": map[string]any{"name": FenceName, "namespace": namespace, "labels": map[string]any{ManagedByLabel: ManagedByValue}},
		}
	}
	quota := meta("v1", "ResourceQuota")
	quota["spec"] = map[string]any{"hard": q.hard()}

	limits := meta("v1", "LimitRange")
	limits["spec"] = map[string]any{"limits": []any{map[string]any{
		"type":           "Container",
		"defaultRequest": map[string]any{"cpu": DefaultRequestCPU, "memory": DefaultRequestMemory},
	}}}

	isolation := meta("networking.k8s.io/v1", "NetworkPolicy")
	ownPods := []any{map[string]any{"podSelector": map[string]any{}}}
	spec := map[string]any{
		"podSelector": map[string]any{},
		"policyTypes": []any{"Ingress"},
		"ingress":     []any{map[string]any{"from": ownPods}},
	}
	if !egress.Open {
		spec["policyTypes"] = []any{"Ingress", "Egress"}
		spec["egress"] = egressRules(ownPods, egress.Allow)
	}
	isolation["spec"] = spec
	return []*unstructured.Unstructured{{Object: quota}, {Object: limits}, {Object: isolation}}
}

// egressRules: the namespace's own Pods; DNS on port 53 wherever the
// cluster serves it (kube-dns, a node-local cache on a link-local
// address); public addresses; the allowed private blocks.
func egressRules(ownPods []any, allow []string) []any {
	public := []any{}
	for _, all := range []string{"0.0.0.0/0", "::/0"} {
		except := []any{}
		for _, block := range privateBlocks[all] {
			except = append(except, block)
		}
		public = append(public, map[string]any{"ipBlock": map[string]any{"cidr": all, "except": except}})
	}
	rules := []any{
		map[string]any{"to": ownPods},
		map[string]any{"ports": []any{
			map[string]any{"protocol": "UDP", "port": int64(53)},
			map[string]any{"protocol": "TCP", "port": int64(53)},
		}},
		map[string]any{"to": public},
	}
	if len(allow) > 0 {
		to := []any{}
		for _, block := range allow {
			to = append(to, map[string]any{"ipBlock": map[string]any{"cidr": strings.TrimSpace(block)}})
		}
		rules = append(rules, map[string]any{"to": to})
	}
	return rules
}
