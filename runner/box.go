package runner

import (
	"fmt"
	"strconv"
	"strings"

	admissionv1 "k8s.io/api/admissionregistration/v1"

	"envgen.dev/envgen/manifests"
)

// namespaceNamePattern is what NamespaceName makes: the service, "-ci",
// the build id, and 8 hexadecimal digits of their hash.
const namespaceNamePattern = `^[a-z0-9]([-a-z0-9]*[a-z0-9])?-ci(-[-a-z0-9]*)?-[0-9a-f]{8}$`

// BoxName names the admission policy that keeps a build inside its box.
const BoxName = "envgen-runner-box"

// MaxBuildSeconds is the longest activeDeadlineSeconds the box lets a
// build Pod have: ci.timeout's own bound, a day.
const MaxBuildSeconds = 24 * 60 * 60

// BoxOptions are what the platform allows a build beyond envgen's own
// rules.
type BoxOptions struct {
	// PriorityClasses are the priority classes a build's Pods may name
	// (none: no priority class at all).
	PriorityClasses []string
	// Ceiling is the largest quota a build namespace may have (zero:
	// DefaultQuota).
	Ceiling Quota
}

// BoxPolicy is the second half of envgen rbac's admission: where
// AdmissionPolicy confines the CI account to build namespaces, the box
// says what it may put there, so that a pull request's envgen.cue —
// objects, patches, fields envgen would refuse — cannot place it whatever
// envgen itself checks:
//
//   - a namespace it creates enforces Pod Security "restricted" (never
//     privileged or baseline, latest version);
//   - a Service has no externalIPs (CVE-2020-8554) and is ClusterIP;
//   - nothing gets finalizers (a namespace that never finishes deleting);
//   - a Pod, or a Deployment's Pod template, has no nodeName (past the
//     scheduler and the node's taints), no priority class outside the
//     platform's list (preempting another team's Pods), no toleration of
//     every taint or of the control plane's; a Pod's activeDeadlineSeconds
//     is at most a day;
//   - a ResourceQuota bounds CPU, memory and Pods, within the platform's
//     ceiling (envgen run --quota sets a build's, envgen rbac
//     --quota-ceiling the most any may ask for); a Deployment asks for no
//     more replicas than the ceiling's Pods;
//   - the one RoleBinding gives BuildRole to the account itself, and exec
//     runs only tar in a build Pod's artifacts container.
func BoxPolicy(namespace, serviceAccount string, o BoxOptions) *admissionv1.ValidatingAdmissionPolicy {
	creating := "(request.operation == 'CREATE' || request.operation == 'UPDATE')"
	allowed := "[]"
	if len(o.PriorityClasses) > 0 {
		quoted := make([]string, len(o.PriorityClasses))
		for i, p := range o.PriorityClasses {
			quoted[i] = strconv.Quote(p)
		}
		allowed = "[" + strings.Join(quoted, ", ") + "]"
	}
	podSpec := func(spec string) []admissionv1.Validation {
		return []admissionv1.Validation{
			{Expression: "!has(" + spec + ".nodeName)", Message: "a build's Pods go where the scheduler puts them: no nodeName"},
			{Expression: "!has(" + spec + ".priorityClassName) || " + spec + ".priorityClassName in " + allowed,
				Message: "a build's Pods may name only the priority classes the platform allows (envgen rbac --priority-class): " + allowed},
			{Expression: "!has(" + spec + ".tolerations) || " + spec + ".tolerations.all(t, has(t.key) && t.key != '' && " +
				"!(t.key in ['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master']))",
				Message: "a build's Pods tolerate named taints only, never every taint or the control plane's"},
		}
	}
	var validations []admissionv1.Validation
	validations = append(validations,
		admissionv1.Validation{
			Expression: "request.resource.resource != 'namespaces' || request.operation != 'CREATE' || " +
				"(has(object.metadata.labels) && '" + podSecurityEnforce + "' in object.metadata.labels && object.metadata.labels['" + podSecurityEnforce + "'] == 'restricted' && " +
				"(!('" + podSecurityVersion + "' in object.metadata.labels) || object.metadata.labels['" + podSecurityVersion + "'] == 'latest'))",
			Message: "a build namespace enforces Pod Security restricted (latest), nothing weaker",
		},
		admissionv1.Validation{
			// envgen's names (NamespaceName): never another team's name,
			// taken before them.
			Expression: "request.resource.resource != 'namespaces' || request.operation != 'CREATE' || " +
				"object.metadata.name.matches('" + namespaceNamePattern + "')",
			Message: "a build namespace is named as envgen names them, <service>-ci-<build id>-<8 hex digits>: no other name may be taken",
		},
		admissionv1.Validation{
			Expression: "!" + creating + " || !has(object.metadata.finalizers) || size(object.metadata.finalizers) == 0",
			Message:    "a build's objects have no finalizers: its namespace must always finish deleting",
		},
		admissionv1.Validation{
			Expression: "request.resource.resource != 'services' || !" + creating + " || " +
				"((!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0) && (!has(object.spec.type) || object.spec.type == 'ClusterIP'))",
			Message: "a build's Services are ClusterIP, without externalIPs: nothing outside the cluster reaches a build",
		},
		admissionv1.Validation{
			Expression: "request.resource.resource != 'pods' || request.operation != 'CREATE' || " +
				"!has(object.spec.activeDeadlineSeconds) || object.spec.activeDeadlineSeconds <= " + strconv.Itoa(MaxBuildSeconds),
			Message: fmt.Sprintf("a build Pod's activeDeadlineSeconds is at most %d (a day, ci.timeout's bound)", MaxBuildSeconds),
		},
	)
	ceiling := o.Ceiling
	if ceiling.Pods == 0 {
		ceiling = DefaultQuota()
	}
	within := func(key, bound string) string {
		return fmt.Sprintf("'%[1]s' in object.spec.hard && quantity(object.spec.hard['%[1]s']).compareTo(quantity('%[2]s')) <= 0", key, bound)
	}
	bounds := []string{"has(object.spec.hard)"}
	for _, key := range quotaKeys {
		switch {
		case key == "requests.cpu":
			bounds = append(bounds, within(key, ceiling.CPU.String()))
		case key == "requests.memory":
			bounds = append(bounds, within(key, ceiling.Memory.String()))
		default:
			bounds = append(bounds, within(key, strconv.FormatInt(ceiling.Pods, 10)))
		}
	}
	validations = append(validations,
		admissionv1.Validation{
			Expression: "request.resource.resource != 'resourcequotas' || request.operation != 'CREATE' || (" + strings.Join(bounds, " && ") + ")",
			Message:    fmt.Sprintf("a build namespace's quota bounds %s, each within the platform's ceiling %s (envgen rbac --quota-ceiling)", strings.Join(quotaKeys, ", "), ceiling),
		},
		admissionv1.Validation{
			Expression: "request.resource.resource != 'deployments' || !" + creating + " || !has(object.spec.replicas) || object.spec.replicas <= " + strconv.FormatInt(ceiling.Pods, 10),
			Message:    fmt.Sprintf("a build's Deployment has at most %d replicas, the ceiling's Pods", ceiling.Pods),
		},
	)
	validations = append(validations,
		admissionv1.Validation{
			Expression: fmt.Sprintf("request.resource.resource != 'networkpolicies' || request.operation == 'DELETE' || "+
				"(request.operation == 'CREATE' && object.metadata.name == '%s')", FenceName),
			Message: fmt.Sprintf("a build namespace's one NetworkPolicy is envgen's fence (%s), created once: another would widen what its Pods may reach", FenceName),
		},
		admissionv1.Validation{
			Expression: fmt.Sprintf("request.resource.resource != 'rolebindings' || request.operation == 'DELETE' || "+
				"(object.roleRef.kind == 'ClusterRole' && object.roleRef.name == '%s' && has(object.subjects) && size(object.subjects) == 1 && "+
				"object.subjects[0].kind == 'ServiceAccount' && object.subjects[0].name == '%s' && "+
				"has(object.subjects[0].namespace) && object.subjects[0].namespace == '%s')", BuildRoleName, serviceAccount, namespace),
			Message: fmt.Sprintf("a build namespace's RoleBinding gives %s to the CI account itself, nothing else to anyone", BuildRoleName),
		},
		admissionv1.Validation{
			// The exact shape envgen runs (tar -cf - -C / ./path…): tar's
			// own options can run programs (--to-command, -I).
			Expression: fmt.Sprintf("!has(request.subResource) || request.subResource != 'exec' || (has(object.container) && object.container == '%s' && "+
				"has(object.command) && size(object.command) > 5 && object.command[0] == 'tar' && object.command[1] == '-cf' && object.command[2] == '-' && "+
				"object.command[3] == '-C' && object.command[4] == '/' && object.command.filter(a, a.startsWith('-')).size() == 3 && "+
				"object.command.filter(a, a.startsWith('./')).size() == size(object.command) - 5)", manifests.ArtifactsContainer),
			Message: fmt.Sprintf("exec into a build Pod runs tar in its %s container only (envgen run --artifacts)", manifests.ArtifactsContainer),
		},
	)
	for _, v := range podSpec("object.spec") {
		// Tolerations on UPDATE too: a Pod's may be added to after it was
		// created, and it would then go where the rule kept it from. (The
		// scheduler sets nodeName after creation; a priority is fixed.)
		operations := "request.operation != 'CREATE'"
		if strings.Contains(v.Expression, "tolerations") {
			operations = "!(request.operation in ['CREATE', 'UPDATE'])"
		}
		v.Expression = "request.resource.resource != 'pods' || " + operations + " || (" + v.Expression + ")"
		validations = append(validations, v)
	}
	for _, v := range podSpec("object.spec.template.spec") {
		v.Expression = "request.resource.resource != 'deployments' || !" + creating + " || (" + v.Expression + ")"
		validations = append(validations, v)
	}
	return accountPolicy(BoxName, namespace, serviceAccount, validations)
}

// BoxPolicyBinding puts BoxPolicy into force.
func BoxPolicyBinding() *admissionv1.ValidatingAdmissionPolicyBinding {
	return policyBinding(BoxName)
}
