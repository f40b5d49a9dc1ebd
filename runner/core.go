package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// Core is the part of the core/v1 API the runner uses — namespaces, Pods,
// their logs, events — over the dynamic client and one HTTP request for
// logs. client-go's typed clients would do the same, but linking them
// registers every API group at start-up and costs every envgen command,
// `build` included, 14 MiB of memory.
type Core struct {
	dyn  dynamic.Interface
	http *http.Client
	host string
	cfg  *rest.Config // for exec, which upgrades the connection
}

// NewCore connects to the cluster of cfg.
func NewCore(cfg *rest.Config, dyn dynamic.Interface) (*Core, error) {
	quietClientGo.Do(func() { klog.SetLogger(logr.Discard()) })
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return &Core{dyn: dyn, http: client, host: strings.TrimRight(cfg.Host, "/"), cfg: cfg}, nil
}

// quietClientGo silences client-go's own log lines (klog): what they say
// — a stream cut, a ping that failed — envgen handles and says in its
// own words; printed as well, they read as a second, unexplained error.
var quietClientGo sync.Once

var (
	namespacesResource = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	podsResource       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	eventsResource     = schema.GroupVersionResource{Version: "v1", Resource: "events"}
	secretsResource    = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	nodesResource      = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
)

func fromUnstructured[T any](u map[string]any) (*T, error) {
	var out T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListNamespaces lists namespaces.
func (c *Core) ListNamespaces(ctx context.Context, opts metav1.ListOptions) (*corev1.NamespaceList, error) {
	list, err := c.dyn.Resource(namespacesResource).List(ctx, opts)
	if err != nil {
		return nil, err
	}
	return fromUnstructured[corev1.NamespaceList](list.UnstructuredContent())
}

// ListNodes lists the cluster's nodes (envgen-runner may list them: their
// allocatable tells a request no node can hold from a full cluster).
func (c *Core) ListNodes(ctx context.Context) (*corev1.NodeList, error) {
	return c.ListNodesMatching(ctx, metav1.ListOptions{})
}

// ListNodesMatching lists the nodes opts selects (one by name: the
// account may list nodes, not get them).
func (c *Core) ListNodesMatching(ctx context.Context, opts metav1.ListOptions) (*corev1.NodeList, error) {
	list, err := c.dyn.Resource(nodesResource).List(ctx, opts)
	if err != nil {
		return nil, err
	}
	return fromUnstructured[corev1.NodeList](list.UnstructuredContent())
}

// CreateNamespace creates a namespace.
func (c *Core) CreateNamespace(ctx context.Context, ns *corev1.Namespace, opts metav1.CreateOptions) error {
	ns.APIVersion, ns.Kind = "v1", "Namespace"
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ns)
	if err != nil {
		return err
	}
	_, err = c.dyn.Resource(namespacesResource).Create(ctx, &unstructured.Unstructured{Object: u}, opts)
	return err
}

// CreateSecret creates a Secret in its namespace.
func (c *Core) CreateSecret(ctx context.Context, secret *corev1.Secret) error {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(secret)
	if err != nil {
		return err
	}
	_, err = c.dyn.Resource(secretsResource).Namespace(secret.Namespace).Create(ctx, &unstructured.Unstructured{Object: u}, metav1.CreateOptions{FieldManager: FieldManager})
	return err
}

// DeleteNamespace deletes a namespace.
func (c *Core) DeleteNamespace(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	return c.dyn.Resource(namespacesResource).Delete(ctx, name, opts)
}

// ListPods lists the Pods of a namespace.
func (c *Core) ListPods(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.PodList, error) {
	list, err := c.dyn.Resource(podsResource).Namespace(namespace).List(ctx, opts)
	if err != nil {
		return nil, err
	}
	return fromUnstructured[corev1.PodList](list.UnstructuredContent())
}

// WatchPods watches the Pods of a namespace; events carry *corev1.Pod (and
// *metav1.Status for errors), as a typed client's would.
func (c *Core) WatchPods(ctx context.Context, namespace string, opts metav1.ListOptions) (watch.Interface, error) {
	w, err := c.dyn.Resource(podsResource).Namespace(namespace).Watch(ctx, opts)
	if err != nil {
		return nil, err
	}
	return watch.Filter(w, func(e watch.Event) (watch.Event, bool) {
		u, ok := e.Object.(*unstructured.Unstructured)
		if !ok {
			return e, true
		}
		if u.GetKind() == "Status" {
			if s, err := fromUnstructured[metav1.Status](u.Object); err == nil {
				e.Object = s
			}
			return e, true
		}
		if p, err := fromUnstructured[corev1.Pod](u.Object); err == nil {
			e.Object = p
		}
		return e, true
	}), nil
}

// GetPod gets one Pod.
func (c *Core) GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	u, err := c.dyn.Resource(podsResource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return fromUnstructured[corev1.Pod](u.Object)
}

// ListEvents lists the events of a namespace.
func (c *Core) ListEvents(ctx context.Context, namespace string) (*corev1.EventList, error) {
	list, err := c.dyn.Resource(eventsResource).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return fromUnstructured[corev1.EventList](list.UnstructuredContent())
}

// PodLogs opens a container's log: GET …/pods/<name>/log.
func (c *Core) PodLogs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	q := url.Values{}
	if opts.Container != "" {
		q.Set("container", opts.Container)
	}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Timestamps {
		q.Set("timestamps", "true")
	}
	if opts.Previous {
		q.Set("previous", "true")
	}
	if opts.TailLines != nil {
		q.Set("tailLines", strconv.FormatInt(*opts.TailLines, 10))
	}
	if opts.SinceTime != nil {
		q.Set("sinceTime", opts.SinceTime.UTC().Format(time.RFC3339))
	}
	u := fmt.Sprintf("%s/api/v1/namespaces/%s/pods/%s/log?%s", c.host, url.PathEscape(namespace), url.PathEscape(pod), q.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var status metav1.Status
		if json.Unmarshal(body, &status) == nil && status.Kind == "Status" {
			return nil, &apierrors.StatusError{ErrStatus: status}
		}
		return nil, apierrors.NewGenericServerResponse(resp.StatusCode, "get", schema.GroupResource{Resource: "pods/log"}, pod, strings.TrimSpace(string(body)), 0, false)
	}
	return resp.Body, nil
}

var deploymentsResource = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// Gone says whether an object of the run is gone or going: not found, or
// being deleted. A namespace has no namespace of its own (namespace "").
func (c *Core) Gone(ctx context.Context, resource schema.GroupVersionResource, namespace, name string) (bool, error) {
	var (
		u   *unstructured.Unstructured
		err error
	)
	if namespace == "" {
		u, err = c.dyn.Resource(resource).Get(ctx, name, metav1.GetOptions{})
	} else {
		u, err = c.dyn.Resource(resource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	}
	switch {
	case apierrors.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, err
	}
	return u.GetDeletionTimestamp() != nil, nil
}
