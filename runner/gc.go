package runner

import (
	"cmp"
	"context"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"envgen.dev/envgen/manifests"
)

// Expired is a build namespace that gc deletes (or, dry, would delete).
type Expired struct {
	Namespace string
	BuildID   string
	Reason    string
}

// GCOptions select the namespaces gc deletes.
type GCOptions struct {
	// OlderThan, when set, also deletes namespaces created longer ago than
	// this, expired or not.
	OlderThan time.Duration
	// MaxAge takes any build namespace older than this, whatever its
	// expiry annotation says (DefaultMaxAge when 0).
	MaxAge time.Duration
	// StalledAfter is how long a deletion may take before the namespace
	// is reported stalled (DefaultStalledAfter when 0).
	StalledAfter time.Duration
	// ClearFinalizers removes, in stalled namespaces, the finalizers of
	// the objects a build holds, which keep the deletion waiting.
	ClearFinalizers bool
	DryRun          bool
	Now             time.Time
}

// DefaultMaxAge is longer than any build may run: the box holds a build
// Pod's deadline to a day, and a run's namespace expires 15 minutes after
// its timeout.
const DefaultMaxAge = 26 * time.Hour

// GCResult is what gc found: the namespaces it deleted (or, dry, would),
// and those whose deletion has stalled.
type GCResult struct {
	Expired []Expired
	Stalled []Stalled
}

// GC deletes the build namespaces envgen created whose expiry passed, and
// reports those whose deletion stalled. It lists only namespaces with
// envgen's managed-by label, so it never touches anyone else's.
func GC(ctx context.Context, client *Core, opts GCOptions) (GCResult, error) {
	var result GCResult
	list, err := client.ListNamespaces(ctx, metav1.ListOptions{LabelSelector: ManagedByLabel + "=" + ManagedByValue})
	if err != nil {
		return result, &ClusterError{Op: "listing namespaces", Err: err}
	}
	stalledAfter := opts.StalledAfter
	if stalledAfter == 0 {
		stalledAfter = DefaultStalledAfter
	}
	var expired []Expired
	for _, ns := range list.Items {
		if ns.Labels[ManagedByLabel] != ManagedByValue {
			continue
		}
		if ns.DeletionTimestamp != nil {
			if opts.Now.Sub(ns.DeletionTimestamp.Time) >= stalledAfter {
				result.Stalled = append(result.Stalled, Stalled{Namespace: ns.Name, BuildID: ns.Annotations[BuildIDAnnotation],
					Since: ns.DeletionTimestamp.Time, Why: stalledWhy(&ns)})
			}
			continue
		}
		reason := ""
		age := opts.Now.Sub(ns.CreationTimestamp.Time)
		if at, err := time.Parse(time.RFC3339, ns.Annotations[ExpiresAnnotation]); err == nil && opts.Now.After(at) {
			reason = "expired at " + at.UTC().Format(time.RFC3339)
		} else if maxAge := cmp.Or(opts.MaxAge, DefaultMaxAge); age > maxAge {
			// Whatever its annotations say (whoever holds the CI account's
			// token can write them): no build lives this long.
			reason = "older than any build runs (" + maxAge.String() + ")"
		} else if opts.OlderThan > 0 && opts.Now.Sub(ns.CreationTimestamp.Time) > opts.OlderThan {
			// Before its expiry a build may still be running: --older-than
			// takes the namespace only once its build Pod has ended.
			running, err := buildRunning(ctx, client, &ns)
			if err != nil {
				return result, &ClusterError{Op: "looking at the build in " + ns.Name, Err: err}
			}
			if !running {
				reason = "older than " + opts.OlderThan.String()
			}
		}
		if reason == "" {
			continue
		}
		expired = append(expired, Expired{Namespace: ns.Name, BuildID: ns.Annotations[BuildIDAnnotation], Reason: reason})
	}
	sort.Slice(expired, func(i, j int) bool { return expired[i].Namespace < expired[j].Namespace })
	sort.Slice(result.Stalled, func(i, j int) bool { return result.Stalled[i].Namespace < result.Stalled[j].Namespace })
	result.Expired = expired
	if opts.DryRun {
		return result, nil
	}
	for _, e := range expired {
		if err := deleteNamespace(ctx, client, e.Namespace); err != nil {
			return result, &ClusterError{Op: "deleting namespace " + e.Namespace, Err: err}
		}
	}
	if opts.ClearFinalizers {
		for i, st := range result.Stalled {
			cleared, err := clearFinalizers(ctx, client, st.Namespace)
			result.Stalled[i].Cleared = cleared
			if err != nil {
				return result, &ClusterError{Op: "clearing finalizers in " + st.Namespace, Err: err}
			}
		}
	}
	return result, nil
}

// buildRunning says whether the namespace's build may still be alive:
// fewer build Pods exist than the run said it would make (it makes them
// once the test services are ready, a stage's once its needs passed), or
// one has not ended.
func buildRunning(ctx context.Context, client *Core, ns *corev1.Namespace) (bool, error) {
	pods, err := client.ListPods(ctx, ns.Name, metav1.ListOptions{LabelSelector: manifests.LabelComponent + "=" + manifests.ComponentCIBuild})
	if apierrors.IsForbidden(err) {
		// Rights in a build namespace are the run's own (BuildRole, bound
		// there): an account that cannot look may not judge the build
		// over, and leaves the namespace to its expiry.
		return true, nil
	}
	if err != nil {
		return false, err
	}
	// A namespace of an envgen before the annotation says nothing.
	if want, err := strconv.Atoi(ns.Annotations[BuildPodsAnnotation]); err == nil && len(pods.Items) < want {
		return true, nil
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			return true, nil
		}
	}
	return false, nil
}

// countBuildPods is how many build Pods objects hold.
func countBuildPods(objects []map[string]any) int {
	n := 0
	for _, m := range objects {
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "Pod" && u.GetLabels()[manifests.LabelComponent] == manifests.ComponentCIBuild {
			n++
		}
	}
	return n
}
