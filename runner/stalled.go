package runner

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// DefaultStalledAfter is how long a build namespace may take to delete
// before gc calls it stalled: the namespace controller empties one of
// envgen's in seconds.
const DefaultStalledAfter = 5 * time.Minute

// Stalled is a build namespace whose deletion has not finished.
type Stalled struct {
	Namespace string
	BuildID   string
	// Since is when its deletion began.
	Since time.Time
	// Why is what the namespace controller says holds it.
	Why string
	// Cleared are the finalizers gc removed (--clear-finalizers), one
	// "Kind/name: finalizer,…" per object.
	Cleared []string
}

// stalledWhy is what the namespace controller's conditions say holds a
// namespace in Terminating: content left, finalizers remaining, an API
// it could not list (an aggregated API that is down).
func stalledWhy(ns *corev1.Namespace) string {
	var why []string
	for _, c := range ns.Status.Conditions {
		if c.Status == corev1.ConditionTrue && c.Message != "" {
			why = append(why, c.Message)
		}
	}
	if len(why) == 0 {
		return "the namespace controller has not said why"
	}
	return strings.Join(why, "; ")
}

// clearFinalizers removes the finalizers of every object of the kinds a
// build holds in namespace, which the namespace controller waits for
// before it can delete the namespace. Only called for namespaces envgen
// made and that are being deleted: nothing else is ever touched.
func clearFinalizers(ctx context.Context, client *Core, namespace string) ([]string, error) {
	var cleared []string
	for _, gvr := range runResources {
		if gvr == secretsResource {
			continue // a build's Secrets are created, never read back
		}
		list, err := client.dyn.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return cleared, fmt.Errorf("listing %s in %s: %w", gvr.Resource, namespace, err)
		}
		for _, obj := range list.Items {
			finalizers := obj.GetFinalizers()
			if len(finalizers) == 0 {
				continue
			}
			// A merge patch that names the version read: a finalizer
			// added since is not removed unseen.
			patch := fmt.Sprintf(`{"metadata":{"finalizers":null,"resourceVersion":%q}}`, obj.GetResourceVersion())
			_, err := client.dyn.Resource(gvr).Namespace(namespace).Patch(ctx, obj.GetName(), types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: FieldManager})
			if err != nil && !apierrors.IsNotFound(err) {
				return cleared, fmt.Errorf("removing the finalizers of %s/%s in %s: %w", obj.GetKind(), obj.GetName(), namespace, err)
			}
			cleared = append(cleared, fmt.Sprintf("%s/%s: %s", obj.GetKind(), obj.GetName(), strings.Join(finalizers, ",")))
		}
	}
	sort.Strings(cleared)
	return cleared, nil
}
