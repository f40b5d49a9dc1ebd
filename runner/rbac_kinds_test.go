package runner

import (
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"envgen.dev/envgen/internal/kubetypes"
)

// TestBuildRolesCreateTheCIKinds holds the ci overlay's kinds
// (kubetypes.BuildNamespaceKinds: what the compiler lets into ci) and the
// build roles together: every such kind can be created and applied by
// both the cluster-wide build role and the namespaced one, and no other
// kind of envgen.cue's objects can. NetworkPolicies stay in the ci overlay
// (the service's own) and run does not apply them. (e2e's rbac test asks kube-apiserver,
// with kubectl auth can-i, about the roles as applied.)
func TestBuildRolesCreateTheCIKinds(t *testing.T) {
	for name, rules := range map[string][]rbacv1.PolicyRule{"BuildRole": BuildRole().Rules, "NamespacedRole": NamespacedRole("ns").Rules} {
		for kind, k := range kubetypes.Kinds {
			if kind == "NetworkPolicy" {
				continue // in the ci overlay, and never applied by run (runner.go)
			}
			group, _, _ := strings.Cut(k.APIVersion, "/")
			if !strings.Contains(k.APIVersion, "/") {
				group = ""
			}
			resource := plural(kind)
			can := grants(rules, group, resource, "create") && grants(rules, group, resource, "patch")
			if want := kubetypes.BuildNamespaceKinds[kind]; can != want {
				t.Errorf("%s: create+patch %s.%s is %v, want %v (kubetypes.BuildNamespaceKinds)", name, resource, group, can, want)
			}
		}
	}
}

func plural(kind string) string {
	lower := strings.ToLower(kind)
	if strings.HasSuffix(lower, "y") {
		return strings.TrimSuffix(lower, "y") + "ies"
	}
	return lower + "s"
}

func grants(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	for _, r := range rules {
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) && len(r.ResourceNames) == 0 {
			return true
		}
	}
	return false
}

// TestRunAppliesTheCIKinds: the kinds run applies (its resources) are the
// ci overlay's.
func TestRunAppliesTheCIKinds(t *testing.T) {
	applied := map[string]bool{}
	for key := range resources {
		applied[key[strings.LastIndex(key, "/")+1:]] = true
	}
	for kind := range kubetypes.BuildNamespaceKinds {
		if !applied[kind] {
			t.Errorf("the ci overlay may hold %s, which run does not apply", kind)
		}
	}
	for kind := range applied {
		if !kubetypes.BuildNamespaceKinds[kind] {
			t.Errorf("run applies %s, which the ci overlay never holds", kind)
		}
	}
}
