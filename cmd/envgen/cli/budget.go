package cli

import (
	"context"
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/cmd/envgen/internal/evaluator"
)

// completionMaxTime is the default compile budget (evaluator.Budget) of
// shell completion, which evaluates envgen.cue to offer its environments
// and objects.
const completionMaxTime = 2 * time.Second

// budget is what one invocation may spend.
type budget struct {
	maxTime   time.Duration
	maxMemory uint64
	// perService: a dir/... run gives each service maxTime of its own
	// (forEachService times them, and sets it once its argument, parsed
	// by cobra, is a pattern); the watch then bounds memory only.
	perService *atomic.Bool
}

// budgetKey carries the budget in the command's context.
type budgetKey struct{}

// budgetOf is the budget execute watches, if any.
func budgetOf(ctx context.Context) (budget, bool) {
	b, ok := ctx.Value(budgetKey{}).(budget)
	return b, ok
}

// budgetError says that evaluating the input ran past the budget.
type budgetError struct{ what string }

func (e *budgetError) Error() string { return e.what }

// clusterCommands talk to a cluster and clean up after themselves when
// interrupted; they are neither cut short by a signal nor budgeted here.
var clusterCommands = map[string]bool{"run": true, "gc": true, "image": true, "promote": true, "lock": true}

func addBudgetFlags(root *cobra.Command) {
	root.PersistentFlags().Duration("max-time", evaluator.DefaultMaxTime, "stop with exit 1 when evaluating envgen.cue takes longer (not run or gc)")
	root.PersistentFlags().String("max-memory", fmt.Sprintf("%dGiB", evaluator.DefaultMaxMemory>>30), "stop with exit 1 when evaluating envgen.cue needs more heap (not run or gc)")
}

// budgetFrom reads the budget flags from args before cobra does: the
// budget watches cobra's own execution.
func budgetFrom(args []string) (budget, error) {
	maxTime, maxMemory, err := evaluator.Budget(args)
	b := budget{maxTime: maxTime, maxMemory: maxMemory, perService: &atomic.Bool{}}
	if len(args) > 0 && strings.HasPrefix(args[0], cobra.ShellCompRequestCmd) && maxTime == evaluator.DefaultMaxTime {
		// A shell waits on completion: a slow envgen.cue gets no
		// environments offered rather than a frozen prompt.
		b.maxTime = completionMaxTime
	}
	return b, err
}

// watch returns a channel that gets an error when the budget is spent or
// ctx ends (a signal); stop ends the watch.
func (b budget) watch(ctx context.Context) (exceeded <-chan error, stop func()) {
	// The watch reads the heap with its garbage: the collector is made to
	// work harder from half the budget on, so that garbage a lazy
	// collector left is not taken for an input that asks too much.
	debug.SetMemoryLimit(int64(b.maxMemory / 2))
	out := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		deadline := time.NewTimer(b.maxTime)
		defer deadline.Stop()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				out <- context.Cause(ctx)
				return
			case <-deadline.C:
				if b.perService.Load() {
					continue // each service is timed on its own
				}
				out <- &budgetError{what: fmt.Sprintf("evaluating envgen.cue took longer than --max-time %s; the input asks for too much computation", b.maxTime)}
				return
			case <-tick.C:
				metrics.Read(sample)
				if heap := sample[0].Value.Uint64(); heap > b.maxMemory {
					out <- &budgetError{what: fmt.Sprintf("evaluating envgen.cue needed more than --max-memory %d MiB; the input asks for too much", b.maxMemory>>20)}
					return
				}
			}
		}
	}()
	return out, func() { close(done) }
}

// lastWord is what a command promises to print whatever happens, when its
// reader needs a document (vet -o json, sarif, gerrit): a budget spent
// mid-evaluation ends the command without its own output, so execute
// prints the promised document instead. Whichever comes first prints;
// the other prints nothing.
type lastWord struct {
	mu      sync.Mutex
	spoken  bool
	onSpent func(error)
}

type lastWordKey struct{}

// promise registers what to print if the budget runs out first.
func (w *lastWord) promise(onSpent func(error)) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.onSpent = onSpent
}

// claim says that the command prints its own output: true unless the
// budget's document was printed already.
func (w *lastWord) claim() bool {
	if w == nil {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.spoken {
		return false
	}
	w.spoken = true
	return true
}

// spent prints the promised document, unless the command printed its own.
func (w *lastWord) spent(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.spoken || w.onSpent == nil {
		return
	}
	w.spoken = true
	w.onSpent(err)
}

func lastWordOf(ctx context.Context) *lastWord {
	w, _ := ctx.Value(lastWordKey{}).(*lastWord)
	return w
}
