package imagebuild

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
)

// DefaultPort is where the daemon envgen's manifests run listens, on its
// Pod's loopback: a port-forward reaches it, the Pod network does not.
const DefaultPort = 1234

// AddressError is an address envgen cannot use: a usage error.
type AddressError struct{ Address, Reason string }

func (e *AddressError) Error() string {
	return fmt.Sprintf("BuildKit address %q: %s", e.Address, e.Reason)
}

// DaemonError says the daemon could not be reached or failed on its side
// (not the build's fault).
type DaemonError struct {
	Op  string
	Err error
}

func (e *DaemonError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *DaemonError) Unwrap() error { return e.Err }

// podAddress is a daemon in a Pod, reached through the API server.
type podAddress struct {
	namespace, pod string
	port           int
}

// parseAddress reads BuildKit's address forms: tcp://host:port and
// unix:///path, as buildctl takes them, and kube-pod://POD?namespace=NS
// (buildctl's form for a daemon in a Pod; envgen reaches it by a
// port-forward through the API server rather than by exec, which would be
// a shell in a privileged container).
func parseAddress(address string) (*podAddress, error) {
	u, err := url.Parse(address)
	if err != nil {
		return nil, &AddressError{Address: address, Reason: err.Error()}
	}
	switch u.Scheme {
	case "tcp", "unix":
		return nil, nil
	case "kube-pod":
		q := u.Query()
		a := &podAddress{pod: u.Host, namespace: q.Get("namespace"), port: DefaultPort}
		if a.pod == "" || a.namespace == "" {
			return nil, &AddressError{Address: address, Reason: "kube-pod:// needs a Pod and its namespace: kube-pod://buildkitd-0?namespace=buildkit"}
		}
		if len(validation.IsDNS1123Subdomain(a.pod)) > 0 || len(validation.IsDNS1123Label(a.namespace)) > 0 {
			return nil, &AddressError{Address: address, Reason: "not a Pod name in a namespace name (DNS names)"}
		}
		if p := q.Get("port"); p != "" {
			if a.port, err = strconv.Atoi(p); err != nil || a.port < 1 || a.port > 65535 {
				return nil, &AddressError{Address: address, Reason: "port is not a port number"}
			}
		}
		for k := range q {
			if k != "namespace" && k != "port" {
				return nil, &AddressError{Address: address, Reason: fmt.Sprintf("unknown parameter %q (namespace and port are known)", k)}
			}
		}
		return a, nil
	}
	return nil, &AddressError{Address: address, Reason: "not tcp://HOST:PORT, unix:///PATH or kube-pod://POD?namespace=NS"}
}

// CheckAddress says whether address is one Connect can use, before
// anything is reached.
func CheckAddress(address string) error {
	_, err := parseAddress(address)
	return err
}

// Connect reaches the daemon at address and checks that it answers;
// cluster is needed for kube-pod:// addresses only.
func Connect(ctx context.Context, address string, cluster *rest.Config) (*client.Client, *client.Info, error) {
	pod, err := parseAddress(address)
	if err != nil {
		return nil, nil, err
	}
	var opts []client.ClientOpt
	if pod != nil {
		if cluster == nil {
			return nil, nil, &AddressError{Address: address, Reason: "a daemon in a Pod is reached through the cluster: give a kubeconfig"}
		}
		fwd, err := newPortForward(cluster, pod)
		if err != nil {
			return nil, nil, &DaemonError{Op: "connecting to " + address, Err: err}
		}
		opts = append(opts, client.WithContextDialer(fwd.dial))
		address = "tcp://" + pod.pod + "." + pod.namespace + ":" + strconv.Itoa(pod.port) // names the connection only
	}
	c, err := client.New(ctx, address, opts...)
	if err != nil {
		return nil, nil, &DaemonError{Op: "connecting to BuildKit", Err: err}
	}
	// The client connects lazily: ask for the daemon's version, so that an
	// unreachable daemon fails here, in seconds, with its address.
	infoCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	info, err := c.Info(infoCtx)
	if err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, &DaemonError{Op: "reaching the BuildKit daemon at " + describeAddress(address, pod), Err: shortGRPC(err)}
	}
	return c, info, nil
}

func describeAddress(address string, pod *podAddress) string {
	if pod != nil {
		return fmt.Sprintf("Pod %s/%s, port %d (through the API server)", pod.namespace, pod.pod, pod.port)
	}
	return address
}

// shortGRPC keeps gRPC's own description of a connection failure and
// drops its wrapping ("failed to call info: rpc error: code = …").
func shortGRPC(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "desc = "); i >= 0 {
		return errors.New(msg[i+len("desc = "):])
	}
	return err
}

var _ net.Conn = (*streamConn)(nil)
