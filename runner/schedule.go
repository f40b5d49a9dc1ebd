package runner

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
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
	// nodes lists the cluster's nodes, to fail at once a Pod that no node
	// could hold even empty; nil, or an error (no right to list them),
	// skips that check.
	nodes func() ([]corev1.Node, error)

	mu      sync.Mutex
	since   map[string]time.Time // by Pod, while it waits for capacity
	msg     map[string]string
	expired string // the Pod whose grace ran out
}

func newScheduleGrace(grace time.Duration, cancel context.CancelFunc, progress *events, nodes func() ([]corev1.Node, error)) *scheduleGrace {
	return &scheduleGrace{grace: grace, cancel: cancel, progress: progress, nodes: nodes, since: map[string]time.Time{}, msg: map[string]string{}}
}

// nodeLister lists the cluster's nodes through client, each call bounded.
func nodeLister(ctx context.Context, client *Core) func() ([]corev1.Node, error) {
	return func() ([]corev1.Node, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		list, err := client.ListNodes(ctx)
		if err != nil {
			return nil, err
		}
		return list.Items, nil
	}
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
	if !ok || pod.Spec.NodeName != "" {
		g.mu.Lock()
		delete(g.since, who)
		g.mu.Unlock()
		return nil
	}
	if !capacity || g.grace <= 0 {
		return &BuildFailedError{Reason: fmt.Sprintf("%s is unschedulable: %s", who, msg)}
	}
	g.mu.Lock()
	_, waiting := g.since[who]
	g.mu.Unlock()
	if !waiting {
		// Nodes are listed outside the lock: up to 10 s over the network,
		// while fire and other Pods' events need it.
		if err := g.beyondEveryNode(who, pod); err != nil {
			return err
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
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

// beyondEveryNode fails a Pod whose requests no node's allocatable holds,
// even with nothing else on it: capacity freed by other builds cannot help
// (a cluster autoscaler adds nodes of the sizes it has; one that adds
// bigger ones would need the grace, and says so in its events). The
// largest node is named. Nodes that cannot be listed skip the check.
func (g *scheduleGrace) beyondEveryNode(who string, pod *corev1.Pod) error {
	if g.nodes == nil {
		return nil
	}
	nodes, err := g.nodes()
	if err != nil || len(nodes) == 0 {
		return nil
	}
	cpu, memory := podRequests(&pod.Spec)
	for _, r := range []struct {
		name    corev1.ResourceName
		request resource.Quantity
	}{{corev1.ResourceCPU, cpu}, {corev1.ResourceMemory, memory}} {
		var largest *corev1.Node
		for i := range nodes {
			n := &nodes[i]
			if largest == nil || n.Status.Allocatable.Name(r.name, resource.DecimalSI).Cmp(*largest.Status.Allocatable.Name(r.name, resource.DecimalSI)) > 0 {
				largest = n
			}
		}
		most := largest.Status.Allocatable.Name(r.name, resource.DecimalSI)
		if r.request.Cmp(*most) > 0 {
			return &BuildFailedError{Reason: fmt.Sprintf("%s requests %s %s, more than any node can hold: the largest, %s, has %s allocatable (of %d node(s)); waiting cannot help, lower its requests",
				who, r.request.String(), r.name, largest.Name, most.String(), len(nodes))}
		}
	}
	return nil
}
