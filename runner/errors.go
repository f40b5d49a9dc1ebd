package runner

import (
	"fmt"
	"time"
)

// ClusterError says that envgen or the cluster failed: unreachable, apply
// rejected, forbidden. The build itself did not get to decide.
type ClusterError struct {
	Op  string
	Err error
	// nodeLost: the run's time ran out while the build's node was not
	// Ready. It is the node's failure, not a timeout of the build.
	nodeLost bool
}

func (e *ClusterError) Error() string { return fmt.Sprintf("%s: %v", e.Op, e.Err) }
func (e *ClusterError) Unwrap() error { return e.Err }

// BuildFailedError says that the build ran, or could not start, and did not
// succeed. ExitCode is the build container's exit code when it ran.
type BuildFailedError struct {
	Reason   string
	ExitCode int
	Ran      bool
	// Stopped: the build started and was stopped by the cluster (an
	// eviction) before its end; it has no exit code of its own.
	Stopped bool
	// crashed names the test service Pod and container whose crashes
	// ended the run: the diagnostics show its last log lines.
	crashed *podContainer
}

type podContainer struct{ pod, container string }

func (e *BuildFailedError) Error() string {
	if e.Ran {
		if ownCodes[e.ExitCode] {
			return fmt.Sprintf("build failed with exit code %d (the build's own exit code, not envgen's %d)", e.ExitCode, e.ExitCode)
		}
		return fmt.Sprintf("build failed with exit code %d", e.ExitCode)
	}
	if e.Stopped {
		return "build did not finish: " + e.Reason
	}
	return "build could not run: " + e.Reason
}

// ownCodes are the exit codes envgen run gives on its own (timeout, cluster
// failure, signals): a build that exits with one of them is said to.
var ownCodes = map[int]bool{124: true, 125: true, 130: true, 143: true}

// TimeoutError says that the run's --timeout, or the build Pod's deadline,
// expired before the build finished.
type TimeoutError struct {
	After  time.Duration
	Reason string
}

func (e *TimeoutError) Error() string {
	if e.Reason != "" {
		return e.Reason
	}
	return fmt.Sprintf("timed out after %s", e.After)
}

// ImageBuildError is an image build that failed by the repository's
// doing: its Dockerfile, a RUN step that failed, a build context that
// cannot be sent. ExitCode is run's exit code for it: a failed RUN's own,
// else 1 (invalid input).
type ImageBuildError struct {
	Err      error
	ExitCode int
}

func (e *ImageBuildError) Error() string { return "image build: " + e.Err.Error() }
func (e *ImageBuildError) Unwrap() error { return e.Err }
