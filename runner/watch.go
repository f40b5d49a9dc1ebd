package runner

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// watchPods watches the Pods of a namespace that match the selectors
// until condition returns true or an error. It lists, then watches from
// the list's version, and after a dropped or failed watch lists again —
// at most relistEvery later, whatever the outage lasted (client-go's
// reflector backs off up to 30 s, which would keep a build's end unseen
// long after an API server restart). A Pod that vanished while the watch
// was down is reported as deleted on the next list, so no transition is
// hidden: the condition always sees the current state.
func watchPods(ctx context.Context, client *Core, namespace, fieldSelector, labelSelector string, condition func(watch.Event) (bool, error)) error {
	seen := map[string]*corev1.Pod{}
	for {
		done, err := listAndWatch(ctx, client, namespace, metav1.ListOptions{FieldSelector: fieldSelector, LabelSelector: labelSelector}, seen, condition)
		if done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(relistEvery):
		}
	}
}

// relistEvery is the longest pause between two lists of a watch that
// keeps failing.
var relistEvery = time.Second

// listAndWatch is one list and the watch that follows it. It returns
// done when the condition is met; (false, nil) when the watch should start
// over (a failed request, a dropped or expired watch).
func listAndWatch(ctx context.Context, client *Core, namespace string, opts metav1.ListOptions, seen map[string]*corev1.Pod, condition func(watch.Event) (bool, error)) (bool, error) {
	list, err := client.ListPods(ctx, namespace, opts)
	if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
		return false, &ClusterError{Op: "watching Pods in " + namespace, Err: err} // waiting would not change it
	}
	if err != nil {
		return false, nil
	}
	current := map[string]bool{}
	for i := range list.Items {
		pod := &list.Items[i]
		current[pod.Name] = true
		seen[pod.Name] = pod
		if done, err := condition(watch.Event{Type: watch.Modified, Object: pod}); done || err != nil {
			return done, err
		}
	}
	for name, pod := range seen {
		if !current[name] {
			delete(seen, name)
			if done, err := condition(watch.Event{Type: watch.Deleted, Object: pod}); done || err != nil {
				return done, err
			}
		}
	}
	opts.ResourceVersion = list.ResourceVersion
	opts.AllowWatchBookmarks = true
	w, err := client.WatchPods(ctx, namespace, opts)
	if err != nil {
		return false, nil
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, nil
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			switch {
			case ev.Type == watch.Error || !isPod:
				return false, nil // expired or broken: list again
			case ev.Type == watch.Bookmark:
				continue
			case ev.Type == watch.Deleted:
				delete(seen, pod.Name)
			default:
				seen[pod.Name] = pod
			}
			if done, err := condition(ev); done || err != nil {
				return done, err
			}
		}
	}
}
