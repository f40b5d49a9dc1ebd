package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"envgen.dev/envgen/manifests"
)

// The namespaced mode (--namespace NS): the build runs in a namespace
// someone else created, with a Role there and no right outside it. Builds
// of one service in one namespace take turns, held by a Lease that the
// running envgen renews: the ci overlay's objects have fixed names (a test
// service is reached by its name), so two builds at once would share them.
// Every object a run creates carries its build id label; the run deletes
// them, and only them, when it ends. A build whose envgen died leaves its
// Lease to expire; the next build takes it over and deletes what the dead
// one left.

var leasesResource = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}

// leaseDuration is how long a Lease outlives its last renewal: a build's
// envgen renews every leaseRenewEvery.
var (
	leaseDuration   = 30 * time.Second
	leaseRenewEvery = 10 * time.Second
)

// LeaseName is the Lease that builds of service take turns on.
func LeaseName(service string) string { return "envgen-" + service }

// runSelector selects what envgen run created in a shared namespace for
// service: never the objects `kubectl apply -k` made from the same tree,
// which carry no build id.
func runSelector(service string) string {
	return ManagedByLabel + "=" + ManagedByValue + "," + manifests.LabelName + "=" + service + "," + BuildIDLabel
}

// markRunObject labels an object (and a Deployment's Pods) as this run's.
func markRunObject(obj map[string]any, buildID string) {
	u := &unstructured.Unstructured{Object: obj}
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[BuildIDLabel] = labelValue(buildID)
	u.SetLabels(labels)
	if u.GetKind() == "Deployment" {
		template, _, _ := unstructured.NestedStringMap(obj, "spec", "template", "metadata", "labels")
		if template == nil {
			template = map[string]string{}
		}
		template[BuildIDLabel] = labelValue(buildID)
		_ = unstructured.SetNestedStringMap(obj, template, "spec", "template", "metadata", "labels")
	}
}

// lease is this build's turn in a shared namespace.
type lease struct {
	run   *run
	name  string
	stop  context.CancelFunc
	ended chan struct{}
}

// takeTurn waits until no other live build of the service holds the
// namespace's Lease, takes it, and keeps it renewed until release.
func (r *run) takeTurn() (*lease, error) {
	client := r.clients.Dynamic.Resource(leasesResource).Namespace(r.namespace)
	name := LeaseName(r.opts.Service)
	said := ""
	for {
		now := time.Now()
		current, err := client.Get(r.ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = client.Create(r.ctx, r.leaseObject(name, now, nil), metav1.CreateOptions{FieldManager: FieldManager})
		case err == nil:
			holder, _, _ := unstructured.NestedString(current.Object, "spec", "holderIdentity")
			renewed, _, _ := unstructured.NestedString(current.Object, "spec", "renewTime")
			seconds, _, _ := unstructured.NestedInt64(current.Object, "spec", "leaseDurationSeconds")
			at, perr := time.Parse(time.RFC3339Nano, renewed)
			if holder != r.opts.BuildID && perr == nil && now.Before(at.Add(time.Duration(seconds)*time.Second)) {
				if said != holder {
					r.events.Status("waiting for build %s of %s to finish in namespace %s (Lease %s)", holder, r.opts.Service, r.namespace, name)
					said = holder
				}
				err = errWaitTurn
				break
			}
			if holder != r.opts.BuildID {
				r.events.Line("envgen: build %s of %s stopped renewing Lease %s: taking over and deleting what it left", holder, r.opts.Service, name)
			}
			_, err = client.Update(r.ctx, r.leaseObject(name, now, current), metav1.UpdateOptions{FieldManager: FieldManager})
		}
		if err == nil {
			break
		}
		if !errors.Is(err, errWaitTurn) && !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) && !transient(err) {
			return nil, &ClusterError{Op: "taking Lease " + name, Err: err}
		}
		select {
		case <-r.ctx.Done():
			return nil, r.ctx.Err()
		case <-time.After(time.Second):
		}
	}
	ctx, stop := context.WithCancel(r.ctx)
	l := &lease{run: r, name: name, stop: stop, ended: make(chan struct{})}
	go l.renew(ctx)
	return l, nil
}

var errWaitTurn = errors.New("another build holds the Lease")

func (r *run) leaseObject(name string, now time.Time, current *unstructured.Unstructured) *unstructured.Unstructured {
	stamp := now.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "coordination.k8s.io/v1",
		"kind":       "Lease",
		"metadata": map[string]any{
			"name":      name,
			"namespace": r.namespace,
			"labels":    map[string]any{ManagedByLabel: ManagedByValue, manifests.LabelName: r.opts.Service},
		},
		"spec": map[string]any{
			"holderIdentity":       r.opts.BuildID,
			"leaseDurationSeconds": int64(leaseDuration / time.Second),
			"acquireTime":          stamp,
			"renewTime":            stamp,
		},
	}}
	if current != nil {
		// Optimistic concurrency: two builds taking over an expired Lease
		// at once, one wins and the other waits.
		u.SetResourceVersion(current.GetResourceVersion())
	}
	return u
}

// renew keeps the Lease fresh until the build ends. A Lease that is gone
// or held by another build (taken over after an outage longer than its
// duration) ends the run: two builds would otherwise share the objects.
func (l *lease) renew(ctx context.Context) {
	defer close(l.ended)
	client := l.run.clients.Dynamic.Resource(leasesResource).Namespace(l.run.namespace)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(leaseRenewEvery):
		}
		current, err := client.Get(ctx, l.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			l.lost("it was deleted")
			return
		}
		if err != nil {
			continue // an outage: the next tick tries again, well within the duration
		}
		if holder, _, _ := unstructured.NestedString(current.Object, "spec", "holderIdentity"); holder != l.run.opts.BuildID {
			l.lost(fmt.Sprintf("build %s holds it now", holder))
			return
		}
		stamp := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00")
		_ = unstructured.SetNestedField(current.Object, stamp, "spec", "renewTime")
		// A conflict (another build took it meanwhile) shows on the next tick.
		_, _ = client.Update(ctx, current, metav1.UpdateOptions{FieldManager: FieldManager})
	}
}

// lost ends the run: its turn in the namespace is over.
func (l *lease) lost(why string) {
	l.run.end(&ClusterError{Op: "keeping Lease " + l.name, Err: fmt.Errorf("this build's turn in namespace %s ended: %s; stopping so that two builds never share its objects", l.run.namespace, why)})
}

// release ends the renewal and deletes the Lease, so the next build need
// not wait for it to expire — only while it is still this build's.
func (l *lease) release(ctx context.Context) {
	l.stop()
	<-l.ended
	client := l.run.clients.Dynamic.Resource(leasesResource).Namespace(l.run.namespace)
	_ = retry(ctx, func(bool) error {
		current, err := client.Get(ctx, l.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if holder, _, _ := unstructured.NestedString(current.Object, "spec", "holderIdentity"); holder != l.run.opts.BuildID {
			return nil // another build's turn now
		}
		rv := current.GetResourceVersion()
		err = client.Delete(ctx, l.name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	})
}

// secretsResource's kind is not in resources: a run creates Secrets but
// never applies them.
var runResources = func() []schema.GroupVersionResource {
	out := []schema.GroupVersionResource{secretsResource}
	for _, gvr := range resources {
		out = append(out, gvr)
	}
	return out
}()

// deleteRunObjects deletes the objects envgen run created for the service
// in the shared namespace — of any build (buildID ""), when this build
// takes the turn over from a dead one; this build's alone at the end, so
// that a build whose turn was taken while it was frozen never deletes the
// next build's — and waits until their Pods are gone, so that the next
// build's Pods of the same names can be created.
func (r *run) deleteRunObjects(ctx context.Context, buildID string) error {
	selector := runSelector(r.opts.Service)
	if buildID != "" {
		selector += "," + BuildIDLabel + "=" + labelValue(buildID)
	}
	policy := metav1.DeletePropagationBackground
	for _, gvr := range runResources {
		err := retry(ctx, func(bool) error {
			return r.clients.Dynamic.Resource(gvr).Namespace(r.namespace).DeleteCollection(ctx,
				metav1.DeleteOptions{PropagationPolicy: &policy}, metav1.ListOptions{LabelSelector: selector})
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return &ClusterError{Op: "deleting the run's " + gvr.Resource + " in " + r.namespace, Err: err}
		}
	}
	for {
		pods, err := r.clients.Kube.ListPods(ctx, r.namespace, metav1.ListOptions{LabelSelector: selector})
		if err == nil && len(pods.Items) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// refuseForeign refuses to apply over an object that exists in the shared
// namespace and is not a run's: server-side apply with force would take it
// over (another team's Service, the service's own Deployment applied from
// the tree).
func (r *run) refuseForeign(objs []map[string]any) error {
	for _, m := range objs {
		u := &unstructured.Unstructured{Object: m}
		gvr, ok := resources[u.GetAPIVersion()+"/"+u.GetKind()]
		if !ok {
			continue
		}
		existing, err := r.clients.Dynamic.Resource(gvr).Namespace(r.namespace).Get(r.ctx, u.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return &ClusterError{Op: fmt.Sprintf("checking %s %s", u.GetKind(), u.GetName()), Err: err}
		}
		return &ClusterError{Op: fmt.Sprintf("applying %s %s", u.GetKind(), u.GetName()),
			Err: fmt.Errorf("namespace %s already has one that envgen run did not create (labels %v); envgen does not take over objects in a shared namespace", r.namespace, existing.GetLabels())}
	}
	return nil
}
