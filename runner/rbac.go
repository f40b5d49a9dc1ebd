package runner

import (
	"fmt"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RBACName names the ClusterRole and binding envgen documents.
const RBACName = "envgen-runner"

// BuildRoleName names the ClusterRole of a build's rights inside its
// namespace, bound there (and only there) by the run itself.
const BuildRoleName = "envgen-runner-build"

// ClusterRole is what `envgen run` and `envgen gc` need cluster-wide, and
// no more: make and delete build namespaces (which do not exist before the
// build, so no Role could grant it) and, in each, bind BuildRole to
// themselves. Nothing in anyone else's namespace is readable: another
// team's Pod specs, ConfigMaps, logs and events are out of reach.
func ClusterRole() *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: RBACName, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
		Rules: []rbacv1.PolicyRule{
			// The build namespace: created, deleted; gc lists them.
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"create", "delete", "get", "list"}},
			// In each, a RoleBinding of BuildRole to the account itself:
			// bind lets it grant that one role without holding its
			// rights anywhere; the admission guard and the box keep the
			// binding inside build namespaces, naming that role and
			// that account only.
			{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"rolebindings"}, Verbs: []string{"create"}},
			{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"}, Verbs: []string{"bind"}, ResourceNames: []string{BuildRoleName}},
			// Nodes, listed: a Pod waiting for capacity that no node's
			// allocatable could hold fails at once, naming the largest
			// node, instead of waiting out --schedule-grace. A node's
			// status also names the images cached on it: names, not
			// content, and nothing of a node can be changed or proxied.
			{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"list"}},
		},
	}
}

// BuildRole is every permission a run uses inside its build namespace,
// where the run binds it: a ClusterRole only so that one object serves
// every namespace, never bound cluster-wide.
func BuildRole() *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: BuildRoleName, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
		Rules: []rbacv1.PolicyRule{
			// The build's Secrets (ci.secrets), created from the CI job's
			// credentials; never read back.
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
			// The fence of a build namespace: its quota and limits are
			// created once and never changed (they go with the namespace);
			// the quota is read until it is counted. The NetworkPolicy is
			// created with the ci overlay's below.
			{APIGroups: []string{""}, Resources: []string{"resourcequotas"}, Verbs: []string{"create", "get"}},
			{APIGroups: []string{""}, Resources: []string{"limitranges"}, Verbs: []string{"create"}},
			// The objects of the ci overlay, by server-side apply.
			{APIGroups: []string{""}, Resources: []string{"pods", "services", "configmaps"}, Verbs: []string{"create", "get", "patch"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"create", "get", "patch"}},
			{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: []string{"create", "get", "patch"}},
			{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: []string{"create", "get", "patch"}},
			// The fence's NetworkPolicy, created once with the namespace
			// (the ci overlay's own policies are not applied).
			{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"create"}},
			// Waiting, logs and diagnostics.
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
			// Copying the artifacts out (--artifacts): tar in the build
			// Pod's artifacts container, by exec over WebSocket, which
			// kube-apiserver authorizes as get (the upgrade) and create.
			// The box lets it run only tar in that container.
			{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"get", "create"}},
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"list"}},
		},
	}
}

// ClusterRoleBinding grants ClusterRole to a ServiceAccount.
func ClusterRoleBinding(namespace, serviceAccount string) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: RBACName, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: RBACName},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: namespace, Name: serviceAccount}},
	}
}

// The objects the ClusterRole lets envgen change, by API group: what the
// admission guard confines to envgen's namespaces.
var guardedResources = []admissionv1.NamedRuleWithOperations{
	{RuleWithOperations: admissionv1.RuleWithOperations{
		Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update, admissionv1.Delete},
		Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"*"}, Resources: []string{"namespaces", "pods", "services", "configmaps", "secrets", "resourcequotas", "limitranges"}},
	}},
	{RuleWithOperations: admissionv1.RuleWithOperations{
		Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update, admissionv1.Delete},
		Rule: admissionv1.Rule{APIGroups: []string{"apps", "autoscaling", "policy", "networking.k8s.io"}, APIVersions: []string{"*"},
			Resources: []string{"deployments", "horizontalpodautoscalers", "poddisruptionbudgets", "networkpolicies"}},
	}},
	{RuleWithOperations: admissionv1.RuleWithOperations{
		Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update, admissionv1.Delete},
		Rule:       admissionv1.Rule{APIGroups: []string{"rbac.authorization.k8s.io"}, APIVersions: []string{"*"}, Resources: []string{"rolebindings"}},
	}},
	{RuleWithOperations: admissionv1.RuleWithOperations{
		Operations: []admissionv1.OperationType{admissionv1.Connect},
		Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"*"}, Resources: []string{"pods/exec"}},
	}},
}

// AdmissionPolicy confines the ServiceAccount's rights to envgen's own
// namespaces, which RBAC cannot: RBAC grants "delete namespaces" or "create
// Pods" everywhere or nowhere, since a build's namespace does not exist
// until the build. The policy (kube-apiserver's built-in CEL admission,
// Kubernetes ≥ 1.30) lets that one account create and delete only
// namespaces labelled as envgen's, and change objects only inside them;
// kube-system and every other namespace are out of its reach whatever the
// ClusterRole says.
func AdmissionPolicy(namespace, serviceAccount string) *admissionv1.ValidatingAdmissionPolicy {
	label := fmt.Sprintf("'%s'", ManagedByLabel)
	labelled := func(obj string) string {
		return fmt.Sprintf("has(%[1]s.metadata.labels) && %[2]s in %[1]s.metadata.labels && %[1]s.metadata.labels[%[2]s] == '%[3]s'", obj, label, ManagedByValue)
	}
	return accountPolicy(RBACName, namespace, serviceAccount, []admissionv1.Validation{
		{
			Expression: "request.resource.resource != 'namespaces' || " +
				"(request.operation == 'DELETE' ? " + labelled("oldObject") + " : " + labelled("object") + ")",
			Message: fmt.Sprintf("envgen may create and delete only namespaces labelled %s=%s", ManagedByLabel, ManagedByValue),
		},
		{
			Expression: "request.resource.resource == 'namespaces' || (namespaceObject != null && " + labelled("namespaceObject") + ")",
			Message:    fmt.Sprintf("envgen may change objects only in namespaces labelled %s=%s (its build namespaces)", ManagedByLabel, ManagedByValue),
		},
	})
}

// accountPolicy is a policy of validations on what the ServiceAccount
// namespace/serviceAccount does to the guarded resources, failing closed.
func accountPolicy(name, namespace, serviceAccount string, validations []admissionv1.Validation) *admissionv1.ValidatingAdmissionPolicy {
	fail := admissionv1.Fail
	return &admissionv1.ValidatingAdmissionPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy:    &fail,
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: guardedResources},
			MatchConditions: []admissionv1.MatchCondition{{
				Name:       "envgen-service-account",
				Expression: fmt.Sprintf("request.userInfo.username == 'system:serviceaccount:%s:%s'", namespace, serviceAccount),
			}},
			Validations: validations,
		},
	}
}

// policyBinding puts the policy name into force, denying what it refuses.
func policyBinding(name string) *admissionv1.ValidatingAdmissionPolicyBinding {
	return &admissionv1.ValidatingAdmissionPolicyBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
		},
	}
}

// AdmissionPolicyBinding puts AdmissionPolicy into force.
func AdmissionPolicyBinding() *admissionv1.ValidatingAdmissionPolicyBinding {
	return policyBinding(RBACName)
}

// NamespacedRole is every permission envgen run needs in a namespace
// someone else created (run --namespace): the objects of the ci overlay,
// its Secrets (create and delete, never read), the Lease builds take
// turns on, and waiting, logs and artifacts. Nothing outside the
// namespace: no namespaces, no cluster-wide right, so no admission guard.
func NamespacedRole(namespace string) *rbacv1.Role {
	objects := []string{"create", "get", "patch", "delete", "deletecollection", "list"}
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: metav1.ObjectMeta{Name: RBACName, Namespace: namespace, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
		Rules: []rbacv1.PolicyRule{
			// The build's Secrets: created, and deleted with the build's
			// other objects by label; never read or listed.
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "delete", "deletecollection"}},
			// The objects of the ci overlay, by server-side apply; checked
			// before (never take over another's), deleted after.
			{APIGroups: []string{""}, Resources: []string{"pods", "services", "configmaps"}, Verbs: objects},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: objects},
			{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: objects},
			{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: objects},
			{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: objects},
			// Builds of a service take turns on a Lease.
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create", "get", "update", "delete"}},
			// Waiting, logs, diagnostics, artifacts.
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"watch"}},
			{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"get", "create"}},
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"list"}},
		},
	}
}

// NamespacedRoleBinding grants NamespacedRole in namespace to a
// ServiceAccount of saNamespace.
func NamespacedRoleBinding(namespace, saNamespace, serviceAccount string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: RBACName, Namespace: namespace, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: RBACName},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: saNamespace, Name: serviceAccount}},
	}
}
