package difftest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// dryRunNamespace enforces the Pod Security Standard "restricted", and
// warns and audits at it, as ci, staging and production namespaces do.
const dryRunNamespace = "difftest-restricted"

// dryRunner sends objects to kube-apiserver with dryRun=All and strict
// field validation: the API server's own validation, defaulting and
// admission (PodSecurity included), with nothing stored.
type dryRunner struct {
	dyn      dynamic.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	warnings *warningRecorder
}

type warningRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (w *warningRecorder) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, text)
}

func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.seen
	w.seen = nil
	return out
}

func newDryRunner(ctx context.Context, base *rest.Config) (*dryRunner, error) {
	cfg := rest.CopyConfig(base)
	rec := &warningRecorder{}
	cfg.WarningHandler = rec
	cfg.QPS, cfg.Burst = 500, 1000
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: dryRunNamespace, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
		"pod-security.kubernetes.io/audit":   "restricted",
	}}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	// The ServiceAccount admission plugin refuses Pods, dry-run or not,
	// until the namespace's default ServiceAccount exists.
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := client.CoreV1().ServiceAccounts(dryRunNamespace).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no default ServiceAccount in %s: %w", dryRunNamespace, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	// ServiceAccounts envgen.cue names exist already, by contract (the
	// generator and the testscripts name these).
	for _, name := range []string{"svc-runner", "deployer", "system.svc-reader"} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := client.CoreV1().ServiceAccounts(dryRunNamespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
	}
	// So do the PriorityClasses it names (admission refuses a Pod whose
	// class does not exist).
	for _, name := range []string{"high", "ci.low"} {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: 1000}
		if _, err := client.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
	}
	if err := installCRDs(ctx, dyn); err != nil {
		return nil, err
	}
	rec.take()
	return &dryRunner{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco)), warnings: rec}, nil
}

// The custom resources the generator's customKinds declare, as their
// projects' CRDs define them (the fields the generator sets, the
// Certificate's structural schema; Calico's spec left open), so that
// kube-apiserver validates the objects of those kinds too.
var testCRDs = []map[string]any{
	crd("cert-manager.io", "Certificate", "certificates", map[string]any{
		"type": "object", "required": []any{"secretName", "issuerRef"},
		"properties": map[string]any{
			"secretName":  map[string]any{"type": "string"},
			"dnsNames":    map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"duration":    map[string]any{"type": "string"},
			"renewBefore": map[string]any{"type": "string"},
			"commonName":  map[string]any{"type": "string"},
			"issuerRef": map[string]any{"type": "object", "required": []any{"name"}, "properties": map[string]any{
				"name": map[string]any{"type": "string"}, "kind": map[string]any{"type": "string"}, "group": map[string]any{"type": "string"},
			}},
		},
	}),
	crd("crd.projectcalico.org", "NetworkPolicy", "networkpolicies", map[string]any{
		"type": "object", "x-kubernetes-preserve-unknown-fields": true,
	}),
}

func crd(group, kind, plural string, spec map[string]any) map[string]any {
	return map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": plural + "." + group},
		"spec": map[string]any{
			"group": group, "scope": "Namespaced",
			"names": map[string]any{"kind": kind, "plural": plural, "singular": strings.ToLower(kind), "listKind": kind + "List"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true, "schema": map[string]any{
				"openAPIV3Schema": map[string]any{"type": "object", "properties": map[string]any{"spec": spec}},
			}}},
		},
	}
}

// installCRDs creates testCRDs and waits until the API server serves them.
func installCRDs(ctx context.Context, dyn dynamic.Interface) error {
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	for _, m := range testCRDs {
		if _, err := crds.Create(ctx, &unstructured.Unstructured{Object: m}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, m := range testCRDs {
		name := m["metadata"].(map[string]any)["name"].(string)
		for {
			got, err := crds.Get(ctx, name, metav1.GetOptions{})
			if err == nil && crdEstablished(got) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("CRD %s not established: %v", name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func crdEstablished(u *unstructured.Unstructured) bool {
	conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// check sends every object of an environment; any rejection or warning is
// an error naming the object.
func (d *dryRunner) check(ctx context.Context, env string, objects []map[string]any) error {
	for _, m := range objects {
		u := &unstructured.Unstructured{Object: deepCopy(m)}
		u.SetNamespace(dryRunNamespace)
		gvk := u.GroupVersionKind()
		mapping, err := d.mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
		if err != nil {
			return fmt.Errorf("%s: %s/%s: %w", env, gvk.Kind, u.GetName(), err)
		}
		_, err = d.dyn.Resource(mapping.Resource).Namespace(dryRunNamespace).Create(ctx, u,
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
		if err != nil {
			return fmt.Errorf("kube-apiserver rejects %s %s/%s: %w", env, gvk.Kind, u.GetName(), err)
		}
		if w := d.warnings.take(); len(w) > 0 {
			return fmt.Errorf("kube-apiserver warns about %s %s/%s: %s", env, gvk.Kind, u.GetName(), strings.Join(w, "; "))
		}
	}
	return nil
}

func deepCopy(m map[string]any) map[string]any {
	return runtimeDeepCopy(m).(map[string]any)
}

func runtimeDeepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = runtimeDeepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = runtimeDeepCopy(x)
		}
		return out
	case int:
		return int64(v)
	}
	return v
}

// TestDryRunCanFail proves the oracle has teeth: the same path refuses a
// Pod that breaks the restricted profile and a Service with two ports of
// the same name.
func TestDryRunCanFail(t *testing.T) {
	if cluster == nil {
		t.Skip("needs the test control plane")
	}
	api, err := newDryRunner(context.Background(), cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	privileged := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "bad"},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "busybox:1",
			"securityContext": map[string]any{"privileged": true}}}}}
	if err := api.check(context.Background(), "test", []map[string]any{privileged}); err == nil || !strings.Contains(err.Error(), "restricted") {
		t.Errorf("a privileged Pod passed the restricted namespace: %v", err)
	}
	dupPorts := map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "bad"},
		"spec": map[string]any{"ports": []any{map[string]any{"name": "http", "port": 80}, map[string]any{"name": "http", "port": 81}}}}
	if err := api.check(context.Background(), "test", []map[string]any{dupPorts}); err == nil || !strings.Contains(err.Error(), "Duplicate value") {
		t.Errorf("a Service with duplicate port names passed: %v", err)
	}
}
