package compiler

import (
	"fmt"
	"os"
	"strings"

	cueerrors "cuelang.org/go/cue/errors"

	"cuelang.org/go/cue"

	"envgen.dev/envgen/internal/kubetypes"
	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

// readCustomKinds reads envgen.cue's customKinds: the custom resources
// the organisation declares, and their schemas.
func (c *compilation) readCustomKinds(top cue.Value) error {
	v := top.LookupPath(cue.ParsePath("customKinds"))
	if !v.Exists() {
		return nil
	}
	c.customKinds, c.customSchemas = map[string]model.CustomKind{}, map[string]cue.Value{}
	iter, err := v.Fields()
	if err != nil {
		return c.inputError("", err)
	}
	for iter.Next() {
		kind := iter.Selector().Unquoted()
		apiVersion, _ := iter.Value().LookupPath(cue.ParsePath("apiVersion")).String()
		if _, builtIn := kubetypes.Kinds[kind]; builtIn && kubetypes.Kinds[kind].APIVersion == apiVersion {
			field := "customKinds." + kind + ".apiVersion"
			return c.positionedError(iter.Value().LookupPath(cue.ParsePath("apiVersion")), field, fmt.Sprintf("%s %s is built into Kubernetes: objects adds it without a declaration", apiVersion, kind))
		}
		if scope, _ := iter.Value().LookupPath(cue.ParsePath("scope")).String(); scope != "Namespaced" {
			field := "customKinds." + kind + ".scope"
			return c.positionedError(iter.Value().LookupPath(cue.ParsePath("scope")), field, "objects adds namespaced kinds only: a cluster-scoped object is the whole cluster's, not one service's, and outlives its namespace")
		}
		if group, _, _ := strings.Cut(apiVersion, "/"); group == "k8s.io" || strings.HasSuffix(group, ".k8s.io") {
			// Kubernetes' own groups (rbac, admissionregistration,
			// apiextensions, discovery…) hold cluster-scoped and
			// cluster-wide kinds: the declaration's scope, written by the
			// same file, cannot be trusted to say otherwise.
			field := "customKinds." + kind + ".apiVersion"
			return c.positionedError(iter.Value().LookupPath(cue.ParsePath("apiVersion")), field, fmt.Sprintf("%s is one of Kubernetes' own API groups: objects adds only the built-in kinds it lists and custom resources of other groups", group))
		}
		if why := knownClusterScoped(apiVersion, kind); why != "" {
			// The declaration's scope is written by the same untrusted
			// file as the object: where the kind is known to be
			// cluster-wide, its word is not taken.
			field := "customKinds." + kind + ".scope"
			return c.positionedError(iter.Value().LookupPath(cue.ParsePath("scope")), field, why+": objects adds namespaced kinds only")
		}
		for other := range c.customKinds {
			if strings.EqualFold(other, kind) {
				return c.positionedError(iter.Value(), "customKinds."+kind, fmt.Sprintf("%s and %s differ only in case: kinds are CamelCase names, and their objects' files would be one", other, kind))
			}
		}
		ck := model.CustomKind{APIVersion: apiVersion}
		if schema := iter.Value().LookupPath(cue.MakePath(cue.Def("schema"))); schema.Exists() {
			ck.Checked = true
			c.customSchemas[kind] = schema
		}
		c.customKinds[kind] = ck
	}
	return nil
}

// checkCustomObjects checks each object of a declared custom kind against
// the kind's schema, where it has one, at the object's positions: the
// object as envgen.cue writes it (without the kind and name its key
// gives), with what is missing left to the schema's defaults and to
// kube-apiserver.
func (c *compilation) checkCustomObjects(env string, resolved cue.Value, s *model.Service) error {
	for _, key := range sorted.Keys(s.Objects) {
		kind, _, _ := strings.Cut(key, "/")
		custom, ok := s.CustomKinds[kind]
		if !ok || s.Objects[key]["apiVersion"] != custom.APIVersion {
			continue
		}
		schema, ok := c.customSchemas[kind]
		if !ok {
			continue
		}
		object := resolved.LookupPath(cue.MakePath(cue.Str("objects"), cue.Str(key)))
		checked := schema.Unify(object)
		if schema.LookupPath(cue.ParsePath("kind")).Exists() {
			// The key gives the kind, which the schema may want.
			checked = checked.Unify(c.ctx.CompileString(fmt.Sprintf("kind: %q", kind)))
		}
		if err := checked.Validate(); err != nil {
			return c.customObjectError(env, kind, key, err)
		}
	}
	return nil
}

// customObjectError reports what the schema refused at the object's
// field (objects."Certificate/x".spec.dnsName), not the schema's.
func (c *compilation) customObjectError(env, kind, key string, err error) error {
	cwd, _ := os.Getwd()
	var lines []string
	for _, e := range withoutOtherKinds(withoutNullBranches(cueerrors.Errors(err))) {
		format, args := e.Msg()
		field := cuePathString(e.Path())
		field = strings.TrimPrefix(strings.TrimPrefix(field, "customKinds."+kind), "."+"#schema")
		at := fmt.Sprintf("objects.%q%s", key, field)
		if !strings.HasPrefix(field, ".") && field != "" {
			at = fmt.Sprintf("objects.%q.%s", key, field)
		}
		msg := fmt.Sprintf("%s: %s (%s's schema, customKinds.%s)", at, c.inWords(plainWords(fmt.Sprintf(format, shortArgs(args)...))), kind, kind)
		if env != "" {
			msg = fmt.Sprintf("%s (in %s)", msg, DescribeScope(env))
		}
		lines = append(lines, c.positioned(cwd, e, msg))
	}
	return &InputError{Lines: lines}
}

// clusterScopedKinds are custom kinds of widely used projects that are
// cluster-scoped, by API group: a declaration that calls one of them
// Namespaced is mistaken (or lying), and the object would be the whole
// cluster's. Every kind of a group listed with "*" is.
var clusterScopedKinds = map[string][]string{
	"cert-manager.io":           {"ClusterIssuer"},
	"trust.cert-manager.io":     {"Bundle"},
	"crd.projectcalico.org":     {"GlobalNetworkPolicy", "GlobalNetworkSet", "HostEndpoint", "IPPool", "IPReservation", "FelixConfiguration", "BGPConfiguration", "BGPPeer", "BGPFilter", "BlockAffinity", "CalicoNodeStatus", "ClusterInformation", "IPAMBlock", "IPAMConfig", "IPAMHandle", "KubeControllersConfiguration", "Tier"},
	"projectcalico.org":         {"GlobalNetworkPolicy", "GlobalNetworkSet", "HostEndpoint", "IPPool", "IPReservation", "FelixConfiguration", "BGPConfiguration", "BGPPeer", "BGPFilter", "CalicoNodeStatus", "ClusterInformation", "KubeControllersConfiguration", "Tier"},
	"cilium.io":                 {"CiliumClusterwideNetworkPolicy", "CiliumClusterwideEnvoyConfig", "CiliumNode", "CiliumIdentity", "CiliumExternalWorkload", "CiliumLoadBalancerIPPool", "CiliumBGPClusterConfig", "CiliumBGPPeerConfig", "CiliumBGPAdvertisement", "CiliumBGPNodeConfig", "CiliumBGPNodeConfigOverride", "CiliumBGPPeeringPolicy", "CiliumCIDRGroup", "CiliumNodeConfig", "CiliumPodIPPool", "CiliumL2AnnouncementPolicy", "CiliumEgressGatewayPolicy"},
	"kyverno.io":                {"ClusterPolicy", "ClusterCleanupPolicy"},
	"templates.gatekeeper.sh":   {"*"},
	"constraints.gatekeeper.sh": {"*"},
	"config.gatekeeper.sh":      {"*"},
	"argoproj.io":               {"ClusterWorkflowTemplate"},
	"external-secrets.io":       {"ClusterSecretStore", "ClusterExternalSecret", "ClusterGenerator"},
	"karpenter.sh":              {"*"},
	"karpenter.k8s.aws":         {"*"},
	"operator.tigera.io":        {"*"},
}

// knownClusterScoped says why a declared custom kind is known to be
// cluster-scoped, or "": one of the kinds above, or a kind named like the
// cluster-wide twin of a namespaced one (ClusterIssuer, GlobalNetworkPolicy),
// which is how projects name them.
func knownClusterScoped(apiVersion, kind string) string {
	group, _, _ := strings.Cut(apiVersion, "/")
	for _, known := range clusterScopedKinds[group] {
		if known == "*" || known == kind {
			return fmt.Sprintf("%s %s is cluster-scoped", apiVersion, kind)
		}
	}
	for _, prefix := range []string{"Cluster", "Global"} {
		if rest, ok := strings.CutPrefix(kind, prefix); ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z' {
			return fmt.Sprintf("%s is named like a cluster-scoped kind (%s…, the cluster-wide twin of a namespaced %s)", kind, prefix, rest)
		}
	}
	return ""
}
