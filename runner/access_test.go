package runner

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

func TestSubjectOf(t *testing.T) {
	for username, want := range map[string]rbacv1.Subject{
		"system:serviceaccount:jenkins:envgen": {Kind: "ServiceAccount", Namespace: "jenkins", Name: "envgen"},
		"alice@example.org":                    {Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "alice@example.org"},
		// Not a ServiceAccount's name, whatever it starts with.
		"system:serviceaccount:jenkins": {Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "system:serviceaccount:jenkins"},
		"system:serviceaccount::x":      {Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "system:serviceaccount::x"},
		"system:admin":                  {Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "system:admin"},
	} {
		if got := subjectOf(username); got != want {
			t.Errorf("subjectOf(%q) = %+v, want %+v", username, got, want)
		}
	}
}
