package runner

// The image build beside the run: envgen run builds the image while the
// build's namespace is made and its test services start; only the objects
// that run the image built wait for it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// imageBuild is Options.Prepare under way.
type imageBuild struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Prepare returned
	failed chan struct{} // closed, before done, when it failed
	image  *BuiltImage
	pinned []map[string]any
	err    error
}

func (r *run) startImageBuild() *imageBuild {
	ctx, cancel := context.WithCancel(r.ctx)
	b := &imageBuild{cancel: cancel, done: make(chan struct{}), failed: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.image, b.pinned, b.err = r.opts.Prepare(ctx)
		if b.err != nil {
			close(b.failed)
		}
	}()
	return b
}

// stop cancels the build if it still runs, and waits until it ended: its
// output must not follow the run's report.
func (b *imageBuild) stop() {
	b.cancel()
	<-b.done
}

// wait waits for the image and returns the objects pinned to it.
func (b *imageBuild) wait(r *run) ([]map[string]any, error) {
	if b.running() {
		r.events.Status("waiting for the image build")
	}
	select {
	case <-b.done:
	case <-r.ctx.Done():
		return nil, r.ctx.Err()
	}
	if b.err != nil {
		return nil, b.err
	}
	r.report.Image = b.image
	return b.pinned, nil
}

func (b *imageBuild) running() bool {
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// failedFirst is the image build's error when it failed (and so ended a
// wait of the run, which err is), else err.
func (b *imageBuild) failedFirst(err error) error {
	if b == nil {
		return err
	}
	select {
	case <-b.failed:
		return b.err
	default:
		return err
	}
}

// waitServices waits for the named test services to be ready, and stops
// waiting when the image build fails.
func (r *run) waitServices(services []string, building *imageBuild) error {
	ctx, stop := context.WithCancel(r.ctx)
	defer stop()
	if building != nil {
		go func() {
			select {
			case <-building.failed:
				stop()
			case <-ctx.Done():
			}
		}()
	}
	scheduling := newScheduleGrace(r.opts.ScheduleGrace, stop, r.events, nodeLister(ctx, r.clients.Kube))
	vanished := &vanishWatch{}
	if len(services) > 0 {
		go vanished.watch(ctx, stop, r.clients.Kube, r.namespace, services)
	}
	images, err := waitForServices(ctx, r.clients.Kube, r.namespace, services, r.events, scheduling)
	r.report.Containers = append(r.report.Containers, images...)
	stop()
	if gerr := scheduling.err(); gerr != nil {
		err = gerr
	}
	if verr := vanished.err(); verr != nil {
		err = verr
	}
	return err
}

// pinnedObjects takes the objects pinned to the image built: those
// applied before it must be the same there (only the image changed, in
// objects that run it); those that run it are applied now, their test
// services waited for; the build Pods are returned.
func (r *run) pinnedObjects(pinned []map[string]any, applied map[string][]byte, deferred []*unstructured.Unstructured, deferredServices []string, compiledBuilds []buildPod) ([]buildPod, error) {
	builds, _, others, err := split(pinned)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*unstructured.Unstructured{}
	for _, o := range others {
		byKey[o.GetKind()+"/"+o.GetName()] = o
	}
	now, err := snapshot(others)
	if err != nil {
		return nil, err
	}
	for key, was := range applied {
		if !bytes.Equal(now[key], was) {
			return nil, fmt.Errorf("%s differs once the image is pinned, though it does not run it (a bug in envgen)", key)
		}
	}
	// The objects that run the image, and the build Pods, were checked and
	// (in a shared namespace) marked as compiled: the pinned ones must be
	// those, but for the image — marked the same, checked by comparison.
	if r.opts.Namespace != "" {
		for _, o := range pinned {
			markRunObject(o, r.opts.BuildID)
		}
	}
	if len(builds) != len(compiledBuilds) {
		return nil, fmt.Errorf("the build has %d Pods once the image is pinned, %d as compiled (a bug in envgen)", len(builds), len(compiledBuilds))
	}
	for i, b := range builds {
		if !sameButImage(compiledBuilds[i].pod.Object, b.pod.Object, r.opts.DeferImage) {
			return nil, fmt.Errorf("build Pod %s differs once the image is pinned, beyond its image (envgen.cue changed during the image build?)", b.pod.GetName())
		}
	}
	for _, o := range deferred {
		p := byKey[o.GetKind()+"/"+o.GetName()]
		if p == nil {
			return nil, fmt.Errorf("%s/%s is gone once the image is pinned (a bug in envgen)", o.GetKind(), o.GetName())
		}
		if !sameButImage(o.Object, p.Object, r.opts.DeferImage) {
			return nil, fmt.Errorf("%s/%s differs once the image is pinned, beyond its image (envgen.cue changed during the image build?)", o.GetKind(), o.GetName())
		}
		if err := apply(r.ctx, r.clients.Dynamic, r.namespace, p.Object); err != nil {
			return nil, err
		}
	}
	if err := r.waitServices(deferredServices, nil); err != nil {
		return nil, err
	}
	return builds, nil
}

// partition splits objs by keep.
func partition(objs []*unstructured.Unstructured, deferred func(*unstructured.Unstructured) bool) (now, later []*unstructured.Unstructured) {
	for _, o := range objs {
		if deferred(o) {
			later = append(later, o)
		} else {
			now = append(now, o)
		}
	}
	return now, later
}

// splitServices splits the test services into those applied now and those
// whose Deployment waits for the image.
func splitServices(services []string, deferred []*unstructured.Unstructured) (now, later []string) {
	waiting := map[string]bool{}
	for _, o := range deferred {
		if o.GetKind() == "Deployment" && isTestService(o) {
			waiting[o.GetName()] = true
		}
	}
	for _, s := range services {
		if waiting[s] {
			later = append(later, s)
		} else {
			now = append(now, s)
		}
	}
	return now, later
}

// mentionsImage says whether an object runs image (a container's image
// field is it).
func mentionsImage(v any, image string) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "image" && s == image {
				return true
			}
			if mentionsImage(e, image) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if mentionsImage(e, image) {
				return true
			}
		}
	}
	return false
}

// sameButImage says whether pinned is compiled, but for the image fields
// that were image (the tag built) in compiled, which may name anything.
func sameButImage(compiled, pinned any, image string) bool {
	switch c := compiled.(type) {
	case map[string]any:
		p, ok := pinned.(map[string]any)
		if !ok || len(p) != len(c) {
			return false
		}
		for k, cv := range c {
			pv, ok := p[k]
			if !ok {
				return false
			}
			if s, isString := cv.(string); isString && k == "image" && s == image {
				if _, ok := pv.(string); ok {
					continue
				}
			}
			if !sameButImage(cv, pv, image) {
				return false
			}
		}
		return true
	case []any:
		p, ok := pinned.([]any)
		if !ok || len(p) != len(c) {
			return false
		}
		for i := range c {
			if !sameButImage(c[i], p[i], image) {
				return false
			}
		}
		return true
	}
	cj, err1 := json.Marshal(compiled)
	pj, err2 := json.Marshal(pinned)
	return err1 == nil && err2 == nil && bytes.Equal(cj, pj)
}

// snapshot is each object as JSON, by kind/name.
func snapshot(objs []*unstructured.Unstructured) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, o := range objs {
		data, err := json.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		out[o.GetKind()+"/"+o.GetName()] = data
	}
	return out, nil
}
