package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"envgen.dev/envgen/internal/termsafe"
	"envgen.dev/envgen/manifests"
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
	// Timeout bounds the whole run, from start to the build's end.
	Timeout time.Duration
	// Keep leaves the namespace in place for debugging.
	Keep bool
	// LogPrefix is put before every line of the build's log.
	LogPrefix string
	// Logs receives the build's log; Progress the run's own messages.
	Logs     io.Writer
	Progress *Progress
	// Start is when the run began (before compiling), for the report.
	Start time.Time
	// ExpiryGrace is added to Timeout for the namespace's expiry annotation,
	// after which `envgen gc` may delete it.
	ExpiryGrace time.Duration
}

// Clients are the cluster connections a run uses.
type Clients struct {
	Kube    *Core
	Dynamic dynamic.Interface
}

// Run runs the build and returns its report. The error says why the build
// did not succeed; the namespace is deleted on every path unless Keep.
func Run(ctx context.Context, clients Clients, opts Options) (report *Report, err error) {
	report = newReport(opts.Start)
	report.Service, report.BuildID = opts.Service, opts.BuildID
	report.Namespace = NamespaceName(opts.Service, opts.BuildID)
	report.mark(PhaseCompile)
	progress := opts.Progress
	// Registered first, so it runs last: the report is complete on every path.
	defer func() {
		report.finish()
		report.outcome(err)
	}()

	build, services, others, err := split(opts.Objects)
	if err != nil {
		return report, err
	}

	runCtx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	// Cleanup and diagnostics must run after a timeout or Ctrl-C too: they
	// get a context of their own.
	cleanupCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	}

	expires := time.Now().Add(opts.Timeout + opts.ExpiryGrace)
	progress.Status("creating namespace %s", report.Namespace)
	if err := createNamespace(runCtx, clients.Kube, report.Namespace, opts.Service, opts.BuildID, expires); err != nil {
		return report, classify(ctx, runCtx, opts.Timeout, err)
	}
	defer func() {
		if err != nil {
			report.markCut(cutHow(err))
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			dctx, cancel := cleanupCtx()
			printDiagnostics(dctx, clients.Kube, report.Namespace, build.GetName(), progress)
			if failed := (*BuildFailedError)(nil); errors.As(err, &failed) && failed.crashed != nil {
				printCrashLog(dctx, clients.Kube, report.Namespace, failed.crashed, progress)
			}
			cancel()
		}
		if opts.Keep {
			progress.Line("envgen: keeping namespace %s (--keep)", report.Namespace)
		} else {
			progress.Status("deleting namespace %s", report.Namespace)
			dctx, cancel := cleanupCtx()
			if derr := deleteNamespace(dctx, clients.Kube, report.Namespace); derr != nil {
				progress.Line("envgen: could not delete namespace %s: %v (envgen gc will)", report.Namespace, derr)
			} else {
				report.Cleaned = true
			}
			cancel()
		}
		report.mark(PhaseCleanup)
	}()

	if err := createSecrets(runCtx, clients.Kube, report.Namespace, opts.Secrets); err != nil {
		return report, classify(ctx, runCtx, opts.Timeout, err)
	}
	for _, obj := range others {
		if err := apply(runCtx, clients.Dynamic, report.Namespace, obj.Object); err != nil {
			return report, classify(ctx, runCtx, opts.Timeout, err)
		}
	}
	report.mark(PhaseApply)

	servicesCtx, stopServices := context.WithCancel(runCtx)
	servicesScheduling := newScheduleGrace(opts.ScheduleGrace, stopServices, progress)
	err = waitForServices(servicesCtx, clients.Kube, report.Namespace, services, progress, servicesScheduling)
	stopServices()
	if gerr := servicesScheduling.err(); gerr != nil {
		err = gerr
	}
	if err != nil {
		return report, classify(ctx, runCtx, opts.Timeout, err)
	}
	report.mark(PhaseServices)

	if err := applyBuildPod(runCtx, clients, report.Namespace, build, progress); err != nil {
		return report, classify(ctx, runCtx, opts.Timeout, err)
	}
	progress.Status("build Pod %s created, waiting for it to be scheduled", build.GetName())

	logsDone := make(chan struct{})
	finished := make(chan struct{})
	streamer := &logStreamer{
		client: clients.Kube, namespace: report.Namespace, pod: build.GetName(), container: buildContainer(build),
		out: progress.Writer(opts.Logs), prefix: opts.LogPrefix, progress: progress,
	}
	watcher := &buildWatch{report: report, progress: progress, container: streamer.container}
	watcher.onStarted = func() {
		go func() {
			defer close(logsDone)
			streamer.run(runCtx, finished)
		}()
	}
	watchCtx, stopWatch := context.WithCancel(runCtx)
	defer stopWatch()
	watcher.onKilled = func() { time.AfterFunc(killedGrace, stopWatch) }
	watcher.scheduling = newScheduleGrace(opts.ScheduleGrace, stopWatch, progress)
	werr := watchPods(watchCtx, clients.Kube, report.Namespace, "metadata.name="+build.GetName(), "", watcher.observe)
	if gerr := watcher.scheduling.err(); gerr != nil {
		werr = gerr
	}
	if werr != nil && watchCtx.Err() != nil && runCtx.Err() == nil && watcher.killed != nil {
		// Killed, and the Pod's phase did not say by whom: the exit code
		// is the build's.
		watcher.finish(watcher.killed)
		werr = nil
	}
	close(finished)
	if watcher.started {
		<-logsDone
	}
	if werr != nil {
		return report, classify(ctx, runCtx, opts.Timeout, werr)
	}
	if watcher.exited {
		report.BuildExitCode = &watcher.exitCode
	}
	if opts.Artifacts != nil {
		report.Artifacts, err = collectArtifacts(runCtx, clients.Kube, report.Namespace, build.GetName(), *opts.Artifacts, progress)
		report.mark(PhaseArtifacts)
		if err != nil {
			if watcher.outcome != nil {
				// The build's failure decides the exit code; the copy's is
				// said.
				progress.Line("envgen: copying the artifacts failed: %v", err)
				return report, watcher.outcome
			}
			return report, classify(ctx, runCtx, opts.Timeout, &ClusterError{Op: "copying the artifacts", Err: err})
		}
	}
	return report, watcher.outcome
}

// collectArtifacts copies the artifacts out and says what it copied.
func collectArtifacts(ctx context.Context, client *Core, namespace, pod string, a Artifacts, progress *Progress) (*CopiedArtifacts, error) {
	progress.Status("copying artifacts to %s", a.Dir)
	copied, err := copyArtifacts(ctx, client, namespace, pod, a)
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

func isTestService(u *unstructured.Unstructured) bool {
	return u.GetLabels()[manifests.LabelComponent] == manifests.ComponentTestService
}

// split finds the build Pod and the test services among the objects.
func split(objs []map[string]any) (build *unstructured.Unstructured, services []string, others []*unstructured.Unstructured, err error) {
	for _, m := range objs {
		u := &unstructured.Unstructured{Object: m}
		switch component := u.GetLabels()[manifests.LabelComponent]; {
		case u.GetKind() == "Pod" && component == manifests.ComponentCIBuild:
			build = u
		case u.GetKind() == "Deployment" && isTestService(u):
			services = append(services, u.GetName())
			others = append(others, u)
		default:
			others = append(others, u)
		}
	}
	if build == nil {
		return nil, nil, nil, fmt.Errorf("the ci environment has no build Pod: set ci.command in envgen.cue")
	}
	return build, services, others, nil
}

func buildContainer(build *unstructured.Unstructured) string {
	containers, _, _ := unstructured.NestedSlice(build.Object, "spec", "containers")
	if len(containers) > 0 {
		if c, ok := containers[0].(map[string]any); ok {
			name, _ := c["name"].(string)
			return name
		}
	}
	return "build"
}

// applyBuildPod applies the build Pod, retrying while the namespace's
// default ServiceAccount does not exist yet: the controller creates it a
// moment after the namespace, and admission refuses Pods until then.
func applyBuildPod(ctx context.Context, clients Clients, namespace string, build *unstructured.Unstructured, progress *Progress) error {
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
	switch {
	case parent.Err() != nil:
		return fmt.Errorf("interrupted: %w", parent.Err())
	case run.Err() != nil:
		return &TimeoutError{After: timeout}
	}
	return err
}

func (r *Report) outcome(err error) {
	var failed *BuildFailedError
	var timeout *TimeoutError
	switch {
	case err == nil:
		r.Outcome = "succeeded"
	case errors.Is(err, context.Canceled):
		r.Outcome = "interrupted"
	case errors.As(err, &timeout):
		r.Outcome = "timeout"
	case errors.As(err, &failed):
		r.Outcome = "failed"
	default:
		r.Outcome = "error"
	}
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
