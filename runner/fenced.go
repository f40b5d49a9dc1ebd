package runner

import (
	"fmt"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The fence must be there before a build's Pods: envgen run creates it
// first, but the box sees one object at a time and cannot ask for it.
// These policies can: each takes the namespace's object of FenceName as
// its parameter, and a Pod the CI account creates where there is none is
// refused (parameterNotFoundAction: Deny). So whoever holds the account's
// token cannot run Pods in a namespace without the quota or the egress
// fence either.
var fencedKinds = []struct{ name, apiVersion, kind string }{
	{"envgen-runner-quota", "v1", "ResourceQuota"},
	{"envgen-runner-network", "networking.k8s.io/v1", "NetworkPolicy"},
}

// FencedPolicies are the policies, and their bindings, that refuse the
// CI account's Pods in a namespace without envgen's ResourceQuota or
// NetworkPolicy.
func FencedPolicies(namespace, serviceAccount string) []any {
	fail := admissionv1.Fail
	deny := admissionv1.DenyAction
	var out []any
	for _, f := range fencedKinds {
		out = append(out,
			&admissionv1.ValidatingAdmissionPolicy{
				TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicy"},
				ObjectMeta: metav1.ObjectMeta{Name: f.name, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
				Spec: admissionv1.ValidatingAdmissionPolicySpec{
					FailurePolicy: &fail,
					ParamKind:     &admissionv1.ParamKind{APIVersion: f.apiVersion, Kind: f.kind},
					MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
						RuleWithOperations: admissionv1.RuleWithOperations{
							Operations: []admissionv1.OperationType{admissionv1.Create},
							Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
						},
					}}},
					MatchConditions: []admissionv1.MatchCondition{{
						Name:       "envgen-service-account",
						Expression: fmt.Sprintf("request.userInfo.username == 'system:serviceaccount:%s:%s'", namespace, serviceAccount),
					}},
					// The parameter found is the check: a namespace without
					// one is denied by the binding.
					Validations: []admissionv1.Validation{{
						Expression: "params != null",
						Message:    fmt.Sprintf("a build's Pods run only in a namespace fenced in by envgen (its %s %s)", f.kind, FenceName),
					}},
				},
			},
			&admissionv1.ValidatingAdmissionPolicyBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingAdmissionPolicyBinding"},
				ObjectMeta: metav1.ObjectMeta{Name: f.name, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
				Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
					PolicyName:        f.name,
					ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
					ParamRef:          &admissionv1.ParamRef{Name: FenceName, ParameterNotFoundAction: &deny},
					// The parameter is looked up before the policy's
					// match conditions run: bound to envgen's namespaces
					// only, or every Pod of the cluster would need a fence.
					MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
						MatchLabels: map[string]string{ManagedByLabel: ManagedByValue},
					}},
				},
			},
		)
	}
	return out
}
