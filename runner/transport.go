package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// DefaultAnswerTimeout is how long envgen waits for the API server to
// start answering a request.
const DefaultAnswerTimeout = 30 * time.Second

// errNoAnswer is the cause of a request the API server did not answer.
var errNoAnswer = errors.New("no answer")

// WithAnswerTimeout makes every request fail when the API server has not
// answered (sent its response headers) within d: a server that accepts the
// connection, completes TLS and then says nothing would otherwise hold
// envgen until its --timeout, and `gc` forever. Watches and log streams
// are not cut: their headers come at once, the body may take hours.
func WithAnswerTimeout(d time.Duration) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return &answerTimeout{rt: rt, d: d}
	}
}

type answerTimeout struct {
	rt http.RoundTripper
	d  time.Duration
}

func (a *answerTimeout) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(a.d, func() { cancel(errNoAnswer) })
	resp, err := a.rt.RoundTrip(req.WithContext(ctx))
	if !timer.Stop() && errors.Is(context.Cause(ctx), errNoAnswer) {
		if err == nil {
			resp.Body.Close()
		}
		cancel(nil)
		return nil, fmt.Errorf("%s %s: the API server did not answer within %s (--request-timeout)", req.Method, req.URL.Path, a.d)
	}
	if err != nil {
		cancel(nil)
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases a request's context with its body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel(nil)
	return err
}
