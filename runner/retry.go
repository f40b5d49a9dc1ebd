package runner

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// retryDelays are the waits between the attempts of a request that failed
// for a reason that passes: about 20 s in all, within a run's budget and
// cleanup's 30 s, and at most 1 s apart. Doubling to 8 s left six
// attempts, and an API server that kept coming and going (away half the
// time, for up to 3 s) refused all six of one of twelve builds' requests
// in the soak test on a loaded machine: what counts is how many moments
// are tried, not how long the last wait is.
var retryDelays = append([]time.Duration{250 * time.Millisecond, 500 * time.Millisecond}, slices.Repeat([]time.Duration{time.Second}, 19)...)

// transient says err may pass if the request is tried again: the API
// server restarting (connection refused or reset), overloaded (429), or
// failing inside (5xx, timeouts).
func transient(err error) bool {
	switch {
	case err == nil:
		return false
	case apierrors.IsTooManyRequests(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err),
		apierrors.IsInternalError(err), apierrors.IsServiceUnavailable(err), apierrors.IsUnexpectedServerError(err):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := status.Status().Code
		return code == 429 || code >= 500
	}
	return false
}

// retry calls do until it succeeds, fails for a reason that does not pass,
// runs out of attempts or ctx ends. do learns whether it is a retry: a
// create that timed out may have happened.
func retry(ctx context.Context, do func(retrying bool) error) error {
	err := do(false)
	for _, delay := range retryDelays {
		if !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		err = do(true)
	}
	return err
}

// retryIdempotent calls do, a request that is safe to repeat, until it
// succeeds, the API server answers with an error that does not pass, or
// ctx ends: every other failure (the connection, not the server) is
// tried again, at most every 2 s.
func retryIdempotent(ctx context.Context, do func() error) error {
	delay := 250 * time.Millisecond
	for {
		err := do()
		var status apierrors.APIStatus
		if err == nil || (errors.As(err, &status) && !transient(err)) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}
