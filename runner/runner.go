package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"envgen.dev/envgen/internal/termsafe"
)

// Options describe one run.
type Options struct {
	// Service is the service's name; BuildID names this build (Jenkins'
	// BUILD_TAG); together they name the namespace.
	Service string
	BuildID string
	// Objects are the ci environment's objects as `envgen build --env ci`
	// prints them.
	Objects []map[string]any
	// Secrets are created in the build's namespace before the objects
	// (CollectSecrets).
	Secrets Secrets
	// Artifacts, if set, are copied out of the build Pod after the build
	// ran, passed or failed.
	Artifacts *Artifacts
	// ScheduleGrace is how long a Pod may be unschedulable for lack of
	// capacity before the run fails (other reasons fail it at once).
	ScheduleGrace time.Duration
	// NodeLostAfter is how long the node under a build Pod may stay not
	// Ready before the run ends; 0 waits for the run's timeout.
	NodeLostAfter time.Duration
	// Timeout bounds the whole run, from start to the build's end.
	Timeout time.Duration
	// Keep leaves the namespace in place for debugging.
	Keep bool
	// LogPrefix is put before every line of the build's log (and a
	// stage's name in brackets after it).
	LogPrefix string
	// Logs receives the build's log; Progress the run's own messages.
	Logs     io.Writer
	Progress *Progress
	// Start is when the run began (before compiling), for the report.
	Start time.Time
	// Namespace, if set, is an existing namespace to run in (the
	// namespaced mode) instead of a namespace of the build's own.
	Namespace string
	// ExpiryGrace is added to Timeout for the namespace's expiry annotation,
	// after which `envgen gc` may delete it.
	ExpiryGrace time.Duration
	// Quota is the ResourceQuota of the build's own namespace (zero:
	// DefaultQuota); the namespaced mode's namespace has its owner's.
	Quota Quota
	// Egress is what the build's Pods may reach beyond their own
	// namespace (when it is theirs alone).
	Egress Egress
	// Prepare, if set, builds the image while the namespace is made and
	// the test services start, and gives the objects pinned to it:
	// Objects' build Pods, and the objects that run DeferImage (the
	// service's image before it was built), come from there.
	Prepare    Prepare
	DeferImage string
	// SameImage, if set, says whether the image a node reports it ran
	// (imageID) is the one built though its digest differs: an index of
	// another build of the same image, say.
	SameImage func(ctx context.Context, imageID, repository, digest string) (bool, error)
}

// Clients are the cluster connections a run uses.
type Clients struct {
	Kube    *Core
	Dynamic dynamic.Interface
}

// run is one run under way: what every step of it needs.
type run struct {
	report    *Report
	clients   Clients
	namespace string
	opts      Options
	events    *events
	parent    context.Context // cancelled by a signal
	ctx       context.Context // the run's, bounded by the timeout
	// end stops the run with a cause of its own (the Lease lost).
	end context.CancelCauseFunc
}

// classify turns the end of a wait into the error a caller acts on.
func (r *run) classify(err error) error { return classify(r.parent, r.ctx, r.opts.Timeout, err) }

// Run runs the build and returns its report. The error says why the build
// did not succeed; the namespace is deleted on every path unless Keep.
func Run(ctx context.Context, clients Clients, opts Options) (report *Report, err error) {
	report = newReport(opts.Start, opts.Prepare != nil)
	report.Service, report.BuildID = opts.Service, opts.BuildID
	report.Namespace = NamespaceName(opts.Service, opts.BuildID)
	if opts.Namespace != "" {
		report.Namespace = opts.Namespace
	}
	ev := &events{sinks: []Sink{report, &console{progress: opts.Progress, logs: opts.Logs, logPrefix: opts.LogPrefix}}}
	// Registered first, so it runs last: the report is complete on every path.
	defer func() {
		report.finish()
		report.outcome(err)
	}()

	endable, end := context.WithCancelCause(ctx)
	defer end(nil)
	runCtx, cancel := context.WithTimeout(endable, opts.Timeout)
	defer cancel()
	r := &run{report: report, clients: clients, namespace: report.Namespace, opts: opts, events: ev, parent: ctx, ctx: runCtx, end: end}

	// The image builds while the namespace is made and the test services
	// start: only the objects that run the image built wait for it.
	var building *imageBuild
	if opts.Prepare != nil {
		building = r.startImageBuild()
		defer building.stop()
	}
	ev.phase("", PhaseCompile)
	builds, services, others, err := split(opts.Objects)
	staged := len(builds) > 1 || builds != nil && builds[0].stage != ""
	report.staged(staged)
	if err != nil {
		return report, err
	}
	// The overlay's NetworkPolicies are the service's, for where it runs:
	// a build's network is its namespace's, fenced by envgen (or by the
	// owner of a shared namespace), and a pull request's policy would
	// only widen it (policies add up).
	others, policies := partition(others, func(u *unstructured.Unstructured) bool { return u.GetKind() == "NetworkPolicy" })
	if len(policies) > 0 {
		names := make([]string, len(policies))
		for i, p := range policies {
			names[i] = p.GetName()
		}
		ev.Line("envgen: not applying the ci overlay's NetworkPolicies (%s): a build's network is its namespace's", strings.Join(names, ", "))
	}
	var deferredOthers []*unstructured.Unstructured
	var deferredServices []string
	var asCompiled map[string][]byte
	if building != nil {
		others, deferredOthers = partition(others, func(u *unstructured.Unstructured) bool { return mentionsImage(u.Object, opts.DeferImage) })
		services, deferredServices = splitServices(services, deferredOthers)
		// As compiled, for the comparison with the pinned objects: apply
		// sets the namespace.
		if asCompiled, err = snapshot(others); err != nil {
			return report, err
		}
	}
	// Cleanup and diagnostics must run after a timeout or Ctrl-C too: they
	// get a context of their own.
	cleanupCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	}

	var where place = &ownNamespace{expires: time.Now().Add(opts.Timeout + opts.ExpiryGrace)}
	if opts.Namespace != "" {
		where = &sharedNamespace{}
	}
	if err := where.enter(r); err != nil {
		return report, r.classify(err)
	}
	defer func() {
		if err != nil {
			report.markCut(cutHow(err))
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			dctx, cancel := cleanupCtx()
			pod := ""
			if !staged {
				pod = builds[0].pod.GetName()
			}
			var inStage *StageError
			if errors.As(err, &inStage) {
				pod = inStage.Pod
			}
			printDiagnostics(dctx, clients.Kube, report.Namespace, pod, ev)
			if failed := (*BuildFailedError)(nil); errors.As(err, &failed) && failed.crashed != nil {
				printCrashLog(dctx, clients.Kube, report.Namespace, failed.crashed, ev)
			}
			cancel()
		}
		dctx, cancel := cleanupCtx()
		report.Cleaned = where.leave(dctx, r)
		cancel()
		ev.phase("", PhaseCleanup)
	}()

	if err := createSecrets(runCtx, clients.Kube, report.Namespace, opts.Secrets, where.labels(r)); err != nil {
		return report, r.classify(err)
	}
	for _, obj := range others {
		if err := apply(runCtx, clients.Dynamic, report.Namespace, obj.Object); err != nil {
			return report, r.classify(building.failedFirst(err))
		}
	}
	ev.phase("", PhaseApply)

	if err := r.waitServices(services, building); err != nil {
		return report, r.classify(building.failedFirst(err))
	}
	ev.phase("", PhaseServices)

	if building != nil {
		pinned, err := building.wait(r)
		if err != nil {
			return report, r.classify(err)
		}
		ev.phase("", PhaseImage)
		pinnedBuilds, err := r.pinnedObjects(pinned, asCompiled, deferredOthers, deferredServices, builds)
		if err != nil {
			return report, r.classify(err)
		}
		builds = pinnedBuilds
	}

	if staged {
		return report, r.stages(builds)
	}
	res := r.pod(builds[0])
	if res.err != nil {
		return report, r.classify(res.err)
	}
	if res.exited {
		report.BuildExitCode = &res.exitCode
	}
	if err := r.artifacts(builds[0], res); err != nil {
		return report, err
	}
	if err := r.checkImage(builds[0], res); err != nil {
		return report, err
	}
	return report, res.outcome
}

// podResult is how one build Pod ran: err says it could not be run or
// watched (a cluster error, the timeout); outcome is the build's own
// failure, nil when it passed.
type podResult struct {
	err      error
	outcome  error
	exited   bool // the build container ran to its end
	exitCode int
	started  bool
	// images are what the Pod's containers ran.
	images []ContainerImage
}

// pod runs one build Pod to completion: applies it, follows it through
// its phases, streams its log, and says how it ended. The unstaged build
// and every stage are this one step.
func (r *run) pod(b buildPod) podResult {
	if err := applyBuildPod(r.ctx, r.clients, r.namespace, b.pod, r.events); err != nil {
		return podResult{err: err}
	}
	what := "the build Pod"
	if b.stage != "" {
		what = "stage " + b.stage + "'s Pod"
	}
	r.events.Status("%s %s created, waiting for it to be scheduled", what, b.pod.GetName())

	logsDone := make(chan struct{})
	finished := make(chan struct{})
	streamer := &logStreamer{
		client: r.clients.Kube, namespace: r.namespace, pod: b.pod.GetName(), container: buildContainer(b.pod),
		out: r.events.logWriter(b.stage), progress: r.events, stage: b.stage,
	}
	watcher := &buildWatch{events: r.events, stage: b.stage, what: what, container: streamer.container}
	watcher.onStarted = func() {
		go func() {
			defer close(logsDone)
			streamer.run(r.ctx, finished)
		}()
	}
	watchCtx, stopWatch := context.WithCancel(r.ctx)
	defer stopWatch()
	var (
		node     string
		nodeGone atomic.Pointer[ClusterError]
	)
	watcher.onScheduled = func(name string) {
		node = name
		w := &nodeWatch{client: r.clients.Kube, node: name, what: what, progress: r.events, lostAfter: r.opts.NodeLostAfter,
			lost: func(err *ClusterError) { nodeGone.Store(err); stopWatch() }}
		go w.run(watchCtx)
	}
	watcher.onKilled = func() { time.AfterFunc(killedGrace, stopWatch) }
	watcher.scheduling = newScheduleGrace(r.opts.ScheduleGrace, stopWatch, r.events, nodeLister(r.ctx, r.clients.Kube))
	werr := watchPods(watchCtx, r.clients.Kube, r.namespace, "metadata.name="+b.pod.GetName(), "", watcher.observe)
	if gerr := watcher.scheduling.err(); gerr != nil {
		werr = gerr
	}
	if werr != nil && watchCtx.Err() != nil && r.ctx.Err() == nil && watcher.killed != nil {
		// Killed, and the Pod's phase did not say by whom: the exit code
		// is the build's.
		watcher.finish(watcher.killed)
		werr = nil
	}
	if lost := nodeGone.Load(); lost != nil {
		werr = lost
	}
	if werr != nil && r.ctx.Err() != nil && r.parent.Err() == nil && node != "" {
		// The run's time is out. Under a node that is not Ready the
		// build's end could not be seen: that is the node's failure,
		// not a build that ran too long.
		if lost := nodeLost(node, what, r.clients.Kube); lost != nil {
			werr = lost
		}
	}
	close(finished)
	if watcher.started {
		<-logsDone
	}
	r.report.Containers = append(r.report.Containers, watcher.images...)
	return podResult{err: werr, outcome: watcher.outcome, exited: watcher.exited, exitCode: watcher.exitCode, started: watcher.started, images: watcher.images}
}

// artifacts copies a build Pod's artifacts out, when asked, into the
// artifacts directory (a stage's into a directory named after it). A
// failed copy fails the run only when the build itself passed.
func (r *run) artifacts(b buildPod, res podResult) error {
	a := r.opts.Artifacts
	if a == nil || !res.started {
		return nil
	}
	dest := *a
	if b.stage != "" {
		dest.Dir = filepath.Join(a.Dir, b.stage)
		if err := os.MkdirAll(dest.Dir, 0o755); err != nil {
			return err
		}
	}
	copied, err := collectArtifacts(r.ctx, r.clients.Kube, r.namespace, b.pod.GetName(), dest, r.events)
	r.events.emit(ArtifactsEvent{Stage: b.stage, Copied: copied})
	if b.stage == "" {
		r.events.phase("", PhaseArtifacts)
	}
	if err != nil {
		if res.outcome != nil {
			// The build's failure decides the exit code; the copy's is
			// said.
			r.events.Line("envgen: copying the artifacts failed: %v", err)
			return nil
		}
		return r.classify(&ClusterError{Op: "copying the artifacts", Err: err})
	}
	return nil
}

// artifactsRetries is how many times a copy whose stream broke is tried
// again.
var artifactsRetries = 3

func isStreamCut(err error) bool {
	var cut *streamCutError
	return errors.As(err, &cut)
}

// collectArtifacts copies the artifacts out and says what it copied.
func collectArtifacts(ctx context.Context, client *Core, namespace, pod string, a Artifacts, progress *events) (*CopiedArtifacts, error) {
	progress.Status("copying artifacts to %s", a.Dir)
	copied, err := copyArtifacts(ctx, client, namespace, pod, a)
	// A stream that broke is copied again, whole (a file written twice is
	// replaced), a few times within the run's budget.
	for attempt := 1; attempt <= artifactsRetries && isStreamCut(err) && ctx.Err() == nil; attempt++ {
		progress.Line("envgen: copying the artifacts again (%d of %d): %s", attempt, artifactsRetries, oneLine(err.Error()))
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(attempt) * time.Second):
		}
		copied, err = copyArtifacts(ctx, client, namespace, pod, a)
	}
	if copied != nil {
		// tar's words and the names are the build's: escaped.
		for _, w := range copied.Warnings {
			progress.Line("envgen: artifacts: %s", termsafe.String(w))
		}
		for _, s := range copied.Skipped {
			progress.Line("envgen: artifacts: %s skipped: not a regular file or directory", termsafe.String(s))
		}
		if err == nil {
			progress.Line("envgen: copied %d artifact files (%d bytes) to %s", copied.Files, copied.Bytes, a.Dir)
		}
	}
	return copied, err
}

// applyBuildPod applies the build Pod, retrying while the namespace's
// default ServiceAccount does not exist yet: the controller creates it a
// moment after the namespace, and admission refuses Pods until then.
func applyBuildPod(ctx context.Context, clients Clients, namespace string, build *unstructured.Unstructured, progress *events) error {
	for said := false; ; said = true {
		err := apply(ctx, clients.Dynamic, namespace, build.Object)
		if err == nil || !apierrors.IsForbidden(errors.Unwrap(err)) || !strings.Contains(err.Error(), "serviceaccount") {
			return err
		}
		if !said {
			progress.Status("waiting for the namespace's default ServiceAccount")
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// classify turns the end of a wait into the error a caller acts on: the
// parent context's cancellation (a signal), the run's timeout, or err.
func classify(parent, run context.Context, timeout time.Duration, err error) error {
	var cluster *ClusterError
	switch {
	case parent.Err() != nil:
		return fmt.Errorf("interrupted: %w", parent.Err())
	case errors.As(context.Cause(run), &cluster):
		return cluster // the run was ended: its Lease was lost
	case run.Err() != nil && errors.As(err, &cluster) && cluster.nodeLost:
		return cluster // the time ran out because the build's node is gone
	case run.Err() != nil:
		return &TimeoutError{After: timeout}
	}
	return err
}

func (r *Report) outcome(err error) {
	r.Outcome = outcomeOf(err)
	if err != nil {
		r.Error = err.Error()
	}
}

// cutHow says how err ended the phase under way, for the report.
func cutHow(err error) string {
	var timeout *TimeoutError
	switch {
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.As(err, &timeout):
		return "timed out"
	}
	return "failed"
}
