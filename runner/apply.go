package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// FieldManager is envgen's name in server-side apply.
const FieldManager = "envgen"

// resources maps the kinds envgen generates to their API resources. envgen
// only applies objects it generated itself, so a fixed table is enough and
// spares a discovery round trip on every build.
var resources = map[string]schema.GroupVersionResource{
	"v1/ConfigMap":                           {Version: "v1", Resource: "configmaps"},
	"v1/Service":                             {Version: "v1", Resource: "services"},
	"v1/Pod":                                 {Version: "v1", Resource: "pods"},
	"apps/v1/Deployment":                     {Group: "apps", Version: "v1", Resource: "deployments"},
	"autoscaling/v2/HorizontalPodAutoscaler": {Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"},
	"policy/v1/PodDisruptionBudget":          {Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
	"networking.k8s.io/v1/NetworkPolicy":     {Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"},
}

// apply server-side applies one object into namespace.
func apply(ctx context.Context, client dynamic.Interface, namespace string, obj map[string]any) error {
	u := &unstructured.Unstructured{Object: obj}
	key := u.GetAPIVersion() + "/" + u.GetKind()
	gvr, ok := resources[key]
	if !ok {
		return fmt.Errorf("envgen cannot apply a %s", key)
	}
	u.SetNamespace(namespace)
	// Apply is idempotent: a retry after a lost answer is harmless.
	err := retry(ctx, func(bool) error {
		_, err := client.Resource(gvr).Namespace(namespace).Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
		return err
	})
	if err != nil {
		return &ClusterError{Op: fmt.Sprintf("applying %s %s", u.GetKind(), u.GetName()), Err: err}
	}
	return nil
}

// KindError says that the ci overlay holds an object a build namespace
// does not take: envgen run applies only the kinds it generates, which
// the CI account may create there (envgen rbac) and the box allows.
type KindError struct{ Object string }

func (e *KindError) Error() string {
	kinds := make([]string, 0, len(resources))
	for key := range resources {
		kinds = append(kinds, key[strings.LastIndex(key, "/")+1:])
	}
	sort.Strings(kinds)
	return fmt.Sprintf("the ci overlay holds %s, which envgen run does not create in a build namespace (it creates %s): leave it out of ci (environments: ci: objects: %q: null)",
		e.Object, strings.Join(kinds, ", "), e.Object)
}

// CheckKinds finds the first object of the ci overlay that the run could
// not apply, before anything is created (at apply time, half the objects
// would be there).
func CheckKinds(objects []map[string]any) error {
	for _, m := range objects {
		u := &unstructured.Unstructured{Object: m}
		if _, ok := resources[u.GetAPIVersion()+"/"+u.GetKind()]; !ok {
			return &KindError{Object: u.GetKind() + "/" + u.GetName()}
		}
	}
	return nil
}
