package runner

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// DefaultScheduleGrace is how long a Pod may stay unschedulable for lack
// of capacity before the run fails: on an autoscaled cluster, the first
// "Insufficient cpu" is the signal that adds a node.
const DefaultScheduleGrace = 2 * time.Minute

// unschedulable returns the scheduler's message for a Pod it could not
// place, and whether capacity (cpu, memory, Pods per node) is among the
// reasons: more nodes, or finished builds, can fix that; a node selector
// or taint nothing matches cannot.
func unschedulable(pod *corev1.Pod) (msg string, capacity, ok bool) {
	c := condition(pod, corev1.PodScheduled)
	if c == nil || c.Status != corev1.ConditionFalse || c.Reason != corev1.PodReasonUnschedulable {
		return "", false, false
	}
	capacity = strings.Contains(c.Message, "Insufficient ") || strings.Contains(c.Message, "Too many pods")
	return c.Message, capacity, true
}

// scheduleGrace fails Pods that cannot be scheduled: at once when capacity
// is not the reason, after grace when it is. It ends the watch (cancel)
// when a Pod's grace runs out; err then says which.
type scheduleGrace struct {
	grace    time.Duration
	cancel   context.CancelFunc
	progress *events

	mu      sync.Mutex
	since   map[string]time.Time // by Pod, while it waits for capacity
	msg     map[string]string
	expired string // the Pod whose grace ran out
}

func newScheduleGrace(grace time.Duration, cancel context.CancelFunc, progress *events) *scheduleGrace {
	return &scheduleGrace{grace: grace, cancel: cancel, progress: progress, since: map[string]time.Time{}, msg: map[string]string{}}
}

// seen looks at a Pod's scheduling; an error ends the wait now. who names
// the Pod in messages ("the build Pod", "test service citoid-db").
func (g *scheduleGrace) seen(who string, pod *corev1.Pod) error {
	msg, capacity, ok := unschedulable(pod)
	if g == nil { // no grace at all
		if ok {
			return &BuildFailedError{Reason: fmt.Sprintf("%s is unschedulable: %s", who, msg)}
		}
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !ok || pod.Spec.NodeName != "" {
		delete(g.since, who)
		return nil
	}
	if !capacity || g.grace <= 0 {
		return &BuildFailedError{Reason: fmt.Sprintf("%s is unschedulable: %s", who, msg)}
	}
	g.msg[who] = msg
	if _, waiting := g.since[who]; !waiting {
		g.since[who] = time.Now()
		g.progress.Status("%s is unschedulable for lack of capacity; waiting up to %s for it (--schedule-grace): %s", who, g.grace, oneLine(msg))
		time.AfterFunc(g.grace, func() { g.fire(who) })
	}
	return nil
}

func (g *scheduleGrace) fire(who string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if since, waiting := g.since[who]; waiting && time.Since(since) >= g.grace && g.expired == "" {
		g.expired = who
		g.cancel()
	}
}

// err is the failure of a Pod whose grace ran out, or nil.
func (g *scheduleGrace) err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.expired == "" {
		return nil
	}
	return &BuildFailedError{Reason: fmt.Sprintf("%s stayed unschedulable for %s (--schedule-grace): %s", g.expired, g.grace, g.msg[g.expired])}
}
