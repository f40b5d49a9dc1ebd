package runner

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// vanishedEvery is how often a wait for the test services checks that
// what it waits on still exists.
var vanishedEvery = 2 * time.Second

// vanishWatch stops a wait for the test services, fast, when what it
// waits on disappears: the build's namespace deleted (by someone else, or
// an over-eager gc), or a test service's Deployment. Pods alone cannot
// tell: without a Deployment no Pod comes back, and the wait would last
// until the timeout.
type vanishWatch struct {
	mu     sync.Mutex
	failed error
}

// watch checks every vanishedEvery until ctx ends, and cancels the wait
// when something vanished. Errors of the check itself (an API server
// away) are not vanishing: the wait's own watch rides them out.
func (v *vanishWatch) watch(ctx context.Context, cancel context.CancelFunc, client *Core, namespace string, deployments []string) {
	tick := time.NewTicker(vanishedEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if gone, err := client.Gone(ctx, namespacesResource, "", namespace); err == nil && gone {
			v.fail(fmt.Errorf("the build's namespace %s was deleted while waiting for the test services", namespace), cancel)
			return
		}
		for _, name := range deployments {
			if gone, err := client.Gone(ctx, deploymentsResource, namespace, name); err == nil && gone {
				v.fail(&BuildFailedError{Reason: fmt.Sprintf("test service %s: its Deployment was deleted while waiting for it", name)}, cancel)
				return
			}
		}
	}
}

func (v *vanishWatch) fail(err error, cancel context.CancelFunc) {
	v.mu.Lock()
	v.failed = err
	v.mu.Unlock()
	cancel()
}

func (v *vanishWatch) err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.failed
}
