package runner

import (
	"context"
	"time"

	"envgen.dev/envgen/manifests"
)

// place is where a build runs: a namespace of its own (the default), or
// a turn in a namespace someone else made (--namespace).
type place interface {
	// enter makes the place ready for the build's objects.
	enter(r *run) error
	// labels are put on what the run creates besides the ci overlay's
	// objects (its Secrets).
	labels(r *run) map[string]string
	// leave removes what the build created, unless Keep; it says whether
	// everything is gone.
	leave(ctx context.Context, r *run) bool
}

// ownNamespace is a namespace created for the build and deleted after it.
type ownNamespace struct{ expires time.Time }

func (p *ownNamespace) enter(r *run) error {
	r.events.Status("creating namespace %s", r.namespace)
	if err := createNamespace(r.ctx, r.clients.Kube, r.namespace, r.opts.Service, r.opts.BuildID, p.expires, countBuildPods(r.opts.Objects)); err != nil {
		return err
	}
	quota := r.opts.Quota
	if quota.Pods == 0 {
		quota = DefaultQuota()
	}
	r.events.Status("fencing namespace %s in: quota %s, ingress from its own Pods only, egress %s", r.namespace, quota, r.opts.Egress)
	err := grantBuildRole(r.ctx, r.clients.Kube, r.namespace)
	if err == nil {
		err = createFence(r.ctx, r.clients.Kube, r.namespace, quota, r.opts.Egress)
	}
	if err != nil {
		// The run's cleanup is not in place yet: the namespace goes now.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 30*time.Second)
		defer cancel()
		if derr := deleteNamespace(ctx, r.clients.Kube, r.namespace); derr != nil {
			r.events.Line("envgen: could not delete namespace %s: %v (envgen gc will)", r.namespace, derr)
		}
		return err
	}
	return nil
}

func (p *ownNamespace) labels(r *run) map[string]string {
	return map[string]string{ManagedByLabel: ManagedByValue}
}

func (p *ownNamespace) leave(ctx context.Context, r *run) bool {
	if r.opts.Keep {
		r.events.Line("envgen: keeping namespace %s (--keep)", r.namespace)
		return false
	}
	r.events.Status("deleting namespace %s", r.namespace)
	if err := deleteNamespace(ctx, r.clients.Kube, r.namespace); err != nil {
		r.events.Line("envgen: could not delete namespace %s: %v (envgen gc will)", r.namespace, err)
		return false
	}
	return true
}

// sharedNamespace is a turn in an existing namespace: the Lease of the
// service's builds there, what a dead build left deleted, and nothing
// applied over an object that is not a run's.
type sharedNamespace struct{ turn *lease }

func (p *sharedNamespace) enter(r *run) error {
	r.events.Status("taking the turn of %s's builds in namespace %s", r.opts.Service, r.namespace)
	turn, err := r.takeTurn()
	if err != nil {
		return err
	}
	err = r.deleteRunObjects(r.ctx, "")
	if err == nil {
		for _, obj := range r.opts.Objects {
			markRunObject(obj, r.opts.BuildID)
		}
		err = r.refuseForeign(r.opts.Objects)
	}
	if err != nil {
		// Nothing of this build's is there yet: give the turn back now.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 30*time.Second)
		defer cancel()
		turn.release(ctx)
		return err
	}
	p.turn = turn
	return nil
}

func (p *sharedNamespace) labels(r *run) map[string]string {
	return map[string]string{ManagedByLabel: ManagedByValue, manifests.LabelName: r.opts.Service, BuildIDLabel: labelValue(r.opts.BuildID)}
}

func (p *sharedNamespace) leave(ctx context.Context, r *run) bool {
	if p.turn == nil {
		return true // never entered: nothing of this build's is there
	}
	defer p.turn.release(ctx)
	if r.opts.Keep {
		r.events.Line("envgen: keeping the build's objects in namespace %s (--keep); the next build of %s there deletes them", r.namespace, r.opts.Service)
		return false
	}
	r.events.Status("deleting the build's objects in namespace %s", r.namespace)
	if err := r.deleteRunObjects(ctx, r.opts.BuildID); err != nil {
		r.events.Line("envgen: could not delete the build's objects in namespace %s: %v (the next build of %s there will)", r.namespace, err, r.opts.Service)
		return false
	}
	return true
}
