package runner

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/internal/termsafe"
	"envgen.dev/envgen/manifests"
)

// cannotStart are container waiting reasons after which a build will not
// run without someone changing something: envgen fails fast on them instead
// of waiting for the timeout.
var cannotStart = map[string]bool{
	"ErrImagePull":               true,
	"ImagePullBackOff":           true,
	"InvalidImageName":           true,
	"ErrImageNeverPull":          true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
}

// waitForServices waits until every test service has a Ready Pod, failing
// fast when one cannot start.
// It returns the images the ready test services' containers run, as the
// kubelet reported them.
func waitForServices(ctx context.Context, client *Core, namespace string, services []string, progress *events, scheduling *scheduleGrace) ([]ContainerImage, error) {
	if len(services) == 0 {
		return nil, nil
	}
	ready := map[string]bool{}
	images := map[string][]ContainerImage{}
	progress.Status("waiting for test services: %s", strings.Join(services, ", "))
	selector := manifests.LabelComponent + "=" + manifests.ComponentTestService
	err := watchPods(ctx, client, namespace, "", selector, func(ev watch.Event) (bool, error) {
		pod, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return false, nil
		}
		instance := pod.Labels[manifests.LabelInstance]
		if ev.Type != watch.Deleted {
			if err := scheduling.seen("test service "+instance, pod); err != nil {
				return false, err
			}
		}
		if reason, msg := waitingProblem(pod); reason != "" {
			return false, &BuildFailedError{Reason: fmt.Sprintf("test service %s: %s: %s", instance, reason, msg)}
		}
		if container, msg := crashLooping(pod); msg != "" {
			return false, &BuildFailedError{Reason: fmt.Sprintf("test service %s: %s", instance, msg),
				crashed: &podContainer{pod: pod.Name, container: container}}
		}
		if ev.Type != watch.Deleted && isReady(pod) && !ready[instance] {
			ready[instance] = true
			images[instance] = podImages(pod)
			progress.Status("test service %s ready (%d/%d)", instance, len(ready), len(services))
		}
		return len(ready) == len(services), nil
	})
	var out []ContainerImage
	for _, instance := range sorted.Keys(images) {
		out = append(out, images[instance]...)
	}
	return out, err
}

// podImages are the images a Pod's containers run, once the kubelet says
// (imageID is empty until a container was created).
func podImages(pod *corev1.Pod) []ContainerImage {
	var images []ContainerImage
	for _, cs := range append(slices.Clone(pod.Status.InitContainerStatuses), pod.Status.ContainerStatuses...) {
		if cs.ImageID != "" {
			images = append(images, ContainerImage{Pod: pod.Name, Container: cs.Name, Image: cs.Image, ImageID: cs.ImageID})
		}
	}
	return images
}

func isReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitingProblem returns the reason and message of a container that will
// not start.
func waitingProblem(pod *corev1.Pod) (string, string) {
	statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil && cannotStart[w.Reason] {
			return w.Reason, w.Message
		}
	}
	return "", ""
}

// crashLoopRestarts is how often a test service may crash before envgen
// gives up on it: one crash can be a race with a dependency, a third is a
// loop that the timeout would only prolong.
const crashLoopRestarts = 2

// crashLooping names and describes a container in CrashLoopBackOff that
// has crashed crashLoopRestarts times, or returns "".
func crashLooping(pod *corev1.Pod) (container, msg string) {
	statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
	for _, cs := range statuses {
		w := cs.State.Waiting
		if w == nil || w.Reason != "CrashLoopBackOff" || cs.RestartCount < crashLoopRestarts {
			continue
		}
		msg = fmt.Sprintf("container %s is crash-looping (restarted %d times", cs.Name, cs.RestartCount)
		if last := cs.LastTerminationState.Terminated; last != nil {
			msg += fmt.Sprintf(", last exit code %d", last.ExitCode)
			if last.Reason != "" && last.Reason != "Error" {
				msg += " (" + last.Reason + ")"
			}
		}
		return cs.Name, msg + ")"
	}
	return "", ""
}

// buildWatch follows a build Pod (the build's, or a stage's) through its
// phases.
type buildWatch struct {
	events     *events
	stage      string // "" for an unstaged build
	what       string // "the build Pod", "stage lint's Pod"
	container  string
	scheduling *scheduleGrace

	scheduled, started bool
	onScheduled        func(node string)
	onStarted          func()
	exitCode           int
	exited             bool // the build container ran to its end
	outcome            error
	// killed is the Pod as it was when the build container was seen
	// killed (137, 143); onKilled is called then, once. See exitedForGood.
	killed   *corev1.Pod
	onKilled func()
	// images are the Pod's containers' images as the kubelet last
	// reported them.
	images []ContainerImage
}

// record keeps what images the Pod's containers run, as far as the
// kubelet has said.
func (b *buildWatch) record(pod *corev1.Pod) {
	if images := podImages(pod); len(images) >= len(b.images) {
		b.images = images
	}
}

// observe is the watch condition: it marks the phases as the Pod reaches
// them and ends the watch when the build finished or cannot run.
func (b *buildWatch) observe(ev watch.Event) (bool, error) {
	pod, ok := ev.Object.(*corev1.Pod)
	if !ok {
		return false, nil
	}
	if ev.Type == watch.Deleted || pod.DeletionTimestamp != nil {
		// Not by envgen, which deletes nothing of the build while it
		// watches: a kill that follows is the deletion's, and its exit
		// code (143 on a real node) is not the build's.
		return false, &ClusterError{Op: "running the build", Err: fmt.Errorf("%s %s was deleted while it ran, not by envgen (a namespace deleted by hand, a drain's eviction, a lost node's Pods, another build's takeover): the build did not finish", b.what, pod.Name)}
	}
	b.record(pod)
	if !b.scheduled {
		if err := b.scheduling.seen(b.what, pod); err != nil {
			return false, err
		}
	}
	if reason, msg := waitingProblem(pod); reason != "" {
		return false, &BuildFailedError{Reason: fmt.Sprintf("%s: %s", reason, msg)}
	}
	// Only a localhost test service (a sidecar) restarts in the build Pod.
	if container, msg := crashLooping(pod); msg != "" {
		return false, &BuildFailedError{Reason: "localhost test service " + container + ": " + msg,
			crashed: &podContainer{pod: pod.Name, container: container}}
	}
	if !b.scheduled && (pod.Spec.NodeName != "" || isTrue(pod, corev1.PodScheduled)) {
		b.scheduled = true
		b.events.phase(b.stage, PhaseScheduled)
		b.events.Status("%s scheduled on %s", b.what, pod.Spec.NodeName)
		if b.onScheduled != nil && pod.Spec.NodeName != "" {
			b.onScheduled(pod.Spec.NodeName)
		}
	}
	if b.scheduled && !b.started && b.containerStarted(pod) {
		b.started = true
		b.events.phase(b.stage, PhaseStarted)
		if b.stage == "" {
			b.events.Status("build running")
		} else {
			b.events.Status("stage %s running", b.stage)
		}
		if b.onStarted != nil {
			b.onStarted()
		}
	}
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		b.finish(pod)
		return true, nil
	}
	if b.exitedForGood(pod) {
		b.finish(pod)
		return true, nil
	}
	return false, nil
}

// exitedForGood says the build container's exit is final and its own:
// the Pod never restarts it, and it was not killed (a kill can be the
// Pod's deadline or an eviction, which the Pod's phase will say). The
// kubelet reports the container's exit about a second before it moves the
// Pod to Succeeded or Failed (measured on a real node: docs/spike-report.md);
// envgen ends the build on the first.
//
// A killed build container (137, 143) waits for the Pod's phase; the
// first time, onKilled starts the wait's bound (killedGrace): with an
// artifacts container still running, a kill from inside the build (or
// the OOM killer) would leave the phase Running until the deadline.
func (b *buildWatch) exitedForGood(pod *corev1.Pod) bool {
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		return false
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != b.container || cs.State.Terminated == nil {
			continue
		}
		t := cs.State.Terminated
		if (t.ExitCode != 128+9 && t.ExitCode != 128+15) || t.Reason == "OOMKilled" {
			return true
		}
		if b.killed == nil {
			b.killed = pod.DeepCopy()
			if b.onKilled != nil {
				b.onKilled()
			}
		}
	}
	return false
}

// killedGrace is how long a killed build container waits for the Pod's
// phase to say why (deadline, eviction) before its exit code is taken as
// the build's own.
var killedGrace = 3 * time.Second

func (b *buildWatch) containerStarted(pod *corev1.Pod) bool {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == b.container && (cs.State.Running != nil || cs.State.Terminated != nil) {
			return true
		}
	}
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// finish records how the Pod ended, marking phases it skipped past.
func (b *buildWatch) finish(pod *corev1.Pod) {
	if !b.scheduled {
		b.scheduled = true
		b.events.phase(b.stage, PhaseScheduled)
	}
	if !b.started {
		b.started = true
		b.events.phase(b.stage, PhaseStarted)
		if b.onStarted != nil {
			b.onStarted()
		}
	}
	b.events.phase(b.stage, PhaseFinished)
	switch {
	case pod.Status.Reason == "DeadlineExceeded":
		b.outcome = &TimeoutError{Reason: "the build Pod's deadline (ci.timeout) passed: " + pod.Status.Message}
		return
	case pod.Status.Reason == "Evicted":
		// The kubelet's own eviction (node pressure, or a Pod past its
		// ephemeral-storage limits): the container's kill is not the
		// build's exit code.
		b.outcome = &BuildFailedError{Stopped: true, Reason: "its Pod was evicted by the node: " + pod.Status.Message}
		return
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == b.container && cs.State.Terminated != nil {
			b.exitCode, b.exited = int(cs.State.Terminated.ExitCode), true
			if b.exitCode != 0 {
				b.outcome = &BuildFailedError{Ran: true, ExitCode: b.exitCode}
			}
			return
		}
	}
	if pod.Status.Phase == corev1.PodFailed {
		b.outcome = &BuildFailedError{Reason: fmt.Sprintf("Pod failed (%s) without an exit code: %s", pod.Status.Reason, pod.Status.Message)}
	}
}

func condition(pod *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == t {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

func isTrue(pod *corev1.Pod, t corev1.PodConditionType) bool {
	c := condition(pod, t)
	return c != nil && c.Status == corev1.ConditionTrue
}

// crashLogLines is how much of a crashed test service's log envgen shows.
const crashLogLines = 20

// printCrashLog shows the last lines a crashed container wrote before its
// last crash: usually the reason.
func printCrashLog(ctx context.Context, client *Core, namespace string, crashed *podContainer, progress *events) {
	tail := int64(crashLogLines)
	stream, err := client.PodLogs(ctx, namespace, crashed.pod, &corev1.PodLogOptions{Container: crashed.container, Previous: true, TailLines: &tail})
	if err != nil {
		progress.Line("log of %s/%s before its last crash: unavailable: %v", crashed.pod, crashed.container, err)
		return
	}
	defer stream.Close()
	progress.Line("last %d lines of %s/%s before its last crash:", crashLogLines, crashed.pod, crashed.container)
	lines := bufio.NewScanner(io.LimitReader(stream, 64<<10))
	for lines.Scan() {
		progress.Line("  %s", termsafe.String(lines.Text()))
	}
}

// printDiagnostics shows why a build failed: the namespace's recent events
// and the build Pod's status.
func printDiagnostics(ctx context.Context, client *Core, namespace, pod string, progress *events) {
	events, err := client.ListEvents(ctx, namespace)
	if err == nil && len(events.Items) > 0 {
		items := events.Items
		sort.SliceStable(items, func(i, j int) bool { return eventTime(items[i]).Time.Before(eventTime(items[j]).Time) })
		if len(items) > 20 {
			items = items[len(items)-20:]
		}
		progress.Line("recent events in %s:", namespace)
		for _, e := range items {
			progress.Line("  %s %-7s %-20s %s/%s: %s", eventTime(e).UTC().Format("15:04:05"), e.Type, e.Reason,
				strings.ToLower(e.InvolvedObject.Kind), e.InvolvedObject.Name, oneLine(e.Message))
		}
	}
	if pod == "" {
		return
	}
	p, err := client.GetPod(ctx, namespace, pod)
	if err != nil {
		return
	}
	progress.Line("build Pod %s: phase %s %s %s", pod, p.Status.Phase, p.Status.Reason, oneLine(p.Status.Message))
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil:
			progress.Line("  container %s: waiting: %s %s", cs.Name, cs.State.Waiting.Reason, oneLine(cs.State.Waiting.Message))
		case cs.State.Terminated != nil:
			progress.Line("  container %s: terminated: exit code %d (%s)", cs.Name, cs.State.Terminated.ExitCode, cs.State.Terminated.Reason)
		case cs.State.Running != nil:
			progress.Line("  container %s: running", cs.Name)
		}
	}
}

func eventTime(e corev1.Event) metav1.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp
	case !e.EventTime.IsZero():
		return metav1.Time{Time: e.EventTime.Time}
	}
	return e.CreationTimestamp
}
