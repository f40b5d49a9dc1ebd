package runner

import (
	"context"
	"fmt"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	accessReviewsResource = schema.GroupVersionResource{Group: "authorization.k8s.io", Version: "v1", Resource: "selfsubjectaccessreviews"}
	selfReviewsResource   = schema.GroupVersionResource{Group: "authentication.k8s.io", Version: "v1", Resource: "selfsubjectreviews"}
	roleBindingsResource  = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
)

// grantTimeout bounds the wait for kube-apiserver's RBAC authorizer to
// see a new RoleBinding, which its informer does within milliseconds.
const grantTimeout = 10 * time.Second

// grantBuildRole makes sure the run may work in its new namespace. The
// account envgen rbac documents holds no rights in anyone's namespace, its
// build namespaces included: it binds BuildRole to itself in each, which
// its ClusterRole's one bind right allows and the box holds to exactly
// that role and that account. An account that may already create Pods
// there (an administrator's kubeconfig, a cluster-wide binding) binds
// nothing.
func grantBuildRole(ctx context.Context, client *Core, namespace string) error {
	allowed, err := mayCreatePods(ctx, client, namespace)
	if err != nil || allowed {
		return err
	}
	subject, err := whoAmI(ctx, client)
	if err != nil {
		return err
	}
	if err := createRoleBinding(ctx, client, BuildRoleBinding(namespace, subject)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, grantTimeout)
	defer cancel()
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return &ClusterError{Op: "binding " + BuildRoleName + " in " + namespace,
					Err: fmt.Errorf("bound, but %s still may not create Pods there after %s: does the ClusterRole %s exist (envgen rbac prints it)?", subjectName(subject), grantTimeout, BuildRoleName)}
			}
			return ctx.Err()
		case <-time.After(delay):
		}
		if allowed, err := mayCreatePods(ctx, client, namespace); err != nil || allowed {
			return err
		}
	}
}

// BuildRoleBinding gives BuildRole to subject in a build namespace.
func BuildRoleBinding(namespace string, subject rbacv1.Subject) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: BuildRoleName, Namespace: namespace, Labels: map[string]string{ManagedByLabel: ManagedByValue}},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: BuildRoleName},
		Subjects:   []rbacv1.Subject{subject},
	}
}

func createRoleBinding(ctx context.Context, client *Core, binding *rbacv1.RoleBinding) error {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(binding)
	if err != nil {
		return err
	}
	err = retry(ctx, func(retrying bool) error {
		_, err := client.dyn.Resource(roleBindingsResource).Namespace(binding.Namespace).
			Create(ctx, &unstructured.Unstructured{Object: u}, metav1.CreateOptions{FieldManager: FieldManager})
		if retrying && apierrors.IsAlreadyExists(err) {
			return nil // the first attempt made it; its answer was lost
		}
		return err
	})
	if err != nil {
		return &ClusterError{Op: "binding " + BuildRoleName + " in " + binding.Namespace + " (envgen rbac's ClusterRole lets the CI account bind it)", Err: err}
	}
	return nil
}

// mayCreatePods asks kube-apiserver whether the caller may create Pods in
// namespace: the one right every build needs, standing for the role.
func mayCreatePods(ctx context.Context, client *Core, namespace string) (bool, error) {
	review := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
		"spec": map[string]any{"resourceAttributes": map[string]any{
			"namespace": namespace, "verb": "create", "resource": "pods",
		}},
	}}
	var answer *unstructured.Unstructured
	err := retry(ctx, func(bool) error {
		var err error
		answer, err = client.dyn.Resource(accessReviewsResource).Create(ctx, review, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return false, &ClusterError{Op: "asking whether envgen may create Pods in " + namespace, Err: err}
	}
	allowed, _, _ := unstructured.NestedBool(answer.Object, "status", "allowed")
	return allowed, nil
}

// whoAmI is the subject kube-apiserver authenticates the caller as.
func whoAmI(ctx context.Context, client *Core) (rbacv1.Subject, error) {
	review := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
	}}
	var answer *unstructured.Unstructured
	err := retry(ctx, func(bool) error {
		var err error
		answer, err = client.dyn.Resource(selfReviewsResource).Create(ctx, review, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return rbacv1.Subject{}, &ClusterError{Op: "asking who envgen runs as (SelfSubjectReview, Kubernetes >= 1.28)", Err: err}
	}
	username, _, _ := unstructured.NestedString(answer.Object, "status", "userInfo", "username")
	if username == "" {
		return rbacv1.Subject{}, &ClusterError{Op: "asking who envgen runs as", Err: fmt.Errorf("the API server named no user")}
	}
	return subjectOf(username), nil
}

// subjectOf is the RBAC subject of an authenticated username: a
// ServiceAccount's is system:serviceaccount:NAMESPACE:NAME.
func subjectOf(username string) rbacv1.Subject {
	if rest, ok := strings.CutPrefix(username, "system:serviceaccount:"); ok {
		if namespace, name, ok := strings.Cut(rest, ":"); ok && namespace != "" && name != "" {
			return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}
		}
	}
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: username}
}

func subjectName(s rbacv1.Subject) string {
	if s.Kind == rbacv1.ServiceAccountKind {
		return "ServiceAccount " + s.Namespace + "/" + s.Name
	}
	return s.Kind + " " + s.Name
}
