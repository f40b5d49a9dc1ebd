package runner

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Quota is what one build namespace may hold at once: the ResourceQuota
// envgen run puts in every namespace it creates (--quota), and the
// ceiling envgen rbac's box holds every such quota under (--quota-ceiling).
// CPU and Memory bound the requests of the namespace's Pods (what the
// scheduler reserves), Pods their number. Limits are not bounded: a quota
// on them would refuse every container that names a request and no limit.
type Quota struct {
	CPU    resource.Quantity
	Memory resource.Quantity
	Pods   int64
}

// DefaultQuota is a build's share when nobody says otherwise: a large CI
// job (a database, a browser, the build itself) fits; a Deployment of a
// thousand replicas does not.
func DefaultQuota() Quota {
	return Quota{CPU: resource.MustParse("8"), Memory: resource.MustParse("16Gi"), Pods: 20}
}

// ParseQuota reads "cpu=4,memory=8Gi,pods=10"; what it does not name keeps
// its value in base.
func ParseQuota(s string, base Quota) (Quota, error) {
	q := base
	for _, field := range strings.Split(s, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return q, fmt.Errorf("%q is not name=value (cpu=4,memory=8Gi,pods=10)", field)
		}
		switch key {
		case "cpu", "memory":
			v, err := resource.ParseQuantity(value)
			if err != nil || v.Sign() <= 0 {
				return q, fmt.Errorf("%s=%s: want a positive quantity (cpu=4, cpu=500m, memory=8Gi)", key, value)
			}
			if key == "cpu" {
				q.CPU = v
			} else {
				q.Memory = v
			}
		case "pods":
			n, err := strconv.ParseInt(value, 10, 32)
			if err != nil || n <= 0 {
				return q, fmt.Errorf("pods=%s: want a positive whole number", value)
			}
			q.Pods = n
		default:
			return q, fmt.Errorf("%q: a quota names cpu, memory and pods", key)
		}
	}
	return q, nil
}

func (q Quota) String() string {
	return fmt.Sprintf("cpu=%s,memory=%s,pods=%d", q.CPU.String(), q.Memory.String(), q.Pods)
}

// FenceName names the ResourceQuota, LimitRange and NetworkPolicy that
// fence a build namespace in.
const FenceName = "envgen-build"

// quotaKeys are the ResourceQuota's hard bounds, each from Quota; the box
// refuses a build namespace's quota that leaves one out or exceeds the
// ceiling in it.
var quotaKeys = []string{"requests.cpu", "requests.memory", "pods"}

func (q Quota) hard() map[string]any {
	hard := map[string]any{}
	for _, key := range quotaKeys {
		switch {
		case key == "requests.cpu":
			hard[key] = q.CPU.String()
		case key == "requests.memory":
			hard[key] = q.Memory.String()
		default:
			hard[key] = strconv.FormatInt(q.Pods, 10)
		}
	}
	return hard
}

// The requests a container without any gets in a build namespace.
const (
	DefaultRequestCPU    = "100m"
	DefaultRequestMemory = "128Mi"
)

var fenceResources = map[string]schema.GroupVersionResource{
	"ResourceQuota": {Version: "v1", Resource: "resourcequotas"},
	"LimitRange":    {Version: "v1", Resource: "limitranges"},
	"NetworkPolicy": {Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"},
}

// createFence creates the fence in a namespace envgen just made, then
// waits until kube-controller-manager has counted the quota: until then
// kube-apiserver refuses every Pod there ("status unknown for quota").
func createFence(ctx context.Context, client *Core, namespace string, q Quota, egress Egress) error {
	for _, obj := range Fence(namespace, q, egress) {
		gvr := fenceResources[obj.GetKind()]
		err := retry(ctx, func(retrying bool) error {
			_, err := client.dyn.Resource(gvr).Namespace(namespace).Create(ctx, obj, metav1.CreateOptions{FieldManager: FieldManager})
			if retrying && apierrors.IsAlreadyExists(err) {
				return nil // the first attempt made it; its answer was lost
			}
			return err
		})
		if err != nil {
			return &ClusterError{Op: fmt.Sprintf("creating the build namespace's %s %s", obj.GetKind(), FenceName), Err: err}
		}
	}
	return waitQuotaCounted(ctx, client, namespace)
}

// quotaCountTimeout bounds the wait for the quota controller, which
// counts a new quota within milliseconds when it runs at all.
const quotaCountTimeout = 30 * time.Second

func waitQuotaCounted(ctx context.Context, client *Core, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, quotaCountTimeout)
	defer cancel()
	gvr := fenceResources["ResourceQuota"]
	delay := 10 * time.Millisecond
	for {
		u, err := client.dyn.Resource(gvr).Namespace(namespace).Get(ctx, FenceName, metav1.GetOptions{})
		if err == nil && quotaCounted(u) {
			return nil
		}
		if err != nil && !transient(err) && ctx.Err() == nil {
			return &ClusterError{Op: "reading the build namespace's quota", Err: err}
		}
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return &ClusterError{Op: "waiting for the build namespace's quota to be counted",
					Err: fmt.Errorf("not counted in %s: is kube-controller-manager's resourcequota controller running?", quotaCountTimeout)}
			}
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// quotaCounted says whether the quota's status bounds and counts every
// resource its spec bounds.
func quotaCounted(u *unstructured.Unstructured) bool {
	hard, _, _ := unstructured.NestedMap(u.Object, "spec", "hard")
	statusHard, _, _ := unstructured.NestedMap(u.Object, "status", "hard")
	used, _, _ := unstructured.NestedMap(u.Object, "status", "used")
	for k := range hard {
		if _, ok := statusHard[k]; !ok {
			return false
		}
		if _, ok := used[k]; !ok {
			return false
		}
	}
	return len(hard) > 0
}
