package imagebuild

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/streaming/pkg/httpstream"
)

// portForward dials the daemon's port in its Pod through the API server
// (pods/portforward), as kubectl port-forward does, but hands the stream
// to the BuildKit client as a connection instead of opening a local port
// that any process on the CI agent could use.
type portForward struct {
	dialer httpstream.Dialer
	port   int
}

func newPortForward(cfg *rest.Config, pod *podAddress) (*portForward, error) {
	host, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, err
	}
	u := host.JoinPath(cfg.APIPath, "api/v1/namespaces", pod.namespace, "pods", pod.pod, "portforward")
	if cfg.APIPath == "" {
		u = host.JoinPath("api/v1/namespaces", pod.namespace, "pods", pod.pod, "portforward")
	}
	// WebSockets first (GET: RBAC's get on pods/portforward), SPDY for an
	// API server that cannot upgrade to them (POST: create), as kubectl.
	tunnel, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, cfg)
	if err != nil {
		return nil, err
	}
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	legacy := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	fallback := func(err error) bool { return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err) }
	return &portForward{dialer: portforward.NewFallbackDialerForStreaming(tunnel, legacy, fallback), port: pod.port}, nil
}

// dial opens one forwarded connection: a port-forward session of its own,
// with its error and data streams.
func (f *portForward) dial(ctx context.Context, _ string) (net.Conn, error) {
	type dialed struct {
		conn httpstream.Connection
		err  error
	}
	done := make(chan dialed, 1)
	go func() {
		conn, _, err := f.dialer.Dial(portforward.PortForwardProtocolV1Name)
		done <- dialed{conn, err}
	}()
	var d dialed
	select {
	case d = <-done:
	case <-ctx.Done():
		go func() {
			if d := <-done; d.conn != nil {
				d.conn.Close()
			}
		}()
		return nil, ctx.Err()
	}
	if d.err != nil {
		return nil, fmt.Errorf("port-forward: %w", d.err)
	}
	headers := http.Header{}
	headers.Set(corev1.StreamType, corev1.StreamTypeError)
	headers.Set(corev1.PortHeader, strconv.Itoa(f.port))
	headers.Set(corev1.PortForwardRequestIDHeader, "0")
	errorStream, err := d.conn.CreateStream(headers)
	if err != nil {
		d.conn.Close()
		return nil, fmt.Errorf("port-forward: %w", err)
	}
	errorStream.Close() // nothing is written to it
	headers.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err := d.conn.CreateStream(headers)
	if err != nil {
		d.conn.Close()
		return nil, fmt.Errorf("port-forward: %w", err)
	}
	c := &streamConn{conn: d.conn, data: data}
	go func() {
		// The kubelet writes here when it cannot reach the port.
		msg, _ := io.ReadAll(io.LimitReader(errorStream, 4096))
		if len(msg) > 0 {
			c.fail(fmt.Errorf("port-forward: %s", strings.TrimSpace(string(msg))))
		}
	}()
	return c, nil
}

// streamConn is a port-forward's data stream as a net.Conn. Deadlines are
// not supported by the stream; gRPC does not need them on a plain
// connection.
type streamConn struct {
	conn httpstream.Connection
	data httpstream.Stream

	mu     sync.Mutex
	err    error
	closed bool
}

func (c *streamConn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.Close()
}

func (c *streamConn) failure(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return err
}

func (c *streamConn) Read(p []byte) (int, error) {
	n, err := c.data.Read(p)
	if err != nil {
		err = c.failure(err)
	}
	return n, err
}

func (c *streamConn) Write(p []byte) (int, error) {
	n, err := c.data.Write(p)
	if err != nil {
		err = c.failure(err)
	}
	return n, err
}

func (c *streamConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	return errors.Join(c.data.Close(), c.conn.Close())
}

func (c *streamConn) LocalAddr() net.Addr              { return forwardAddr{} }
func (c *streamConn) RemoteAddr() net.Addr             { return forwardAddr{} }
func (c *streamConn) SetDeadline(time.Time) error      { return nil }
func (c *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(time.Time) error { return nil }

type forwardAddr struct{}

func (forwardAddr) Network() string { return "portforward" }
func (forwardAddr) String() string  { return "portforward" }
