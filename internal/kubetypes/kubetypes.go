// Package kubetypes knows the Kubernetes API types of the objects
// envgen.cue's escape hatch may patch or add, and decodes CUE data into
// them strictly: a field the type does not have is reported with its
// path, so that the compiler can name its position in envgen.cue.
package kubetypes

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Object is a typed Kubernetes object.
type Object interface {
	metav1.Object
	runtime.Object
}

// Kind is a kind envgen can decode.
type Kind struct {
	APIVersion string
	New        func() Object
}

// Kinds are the kinds of envgen.cue's objects: namespaced, built in (so
// that they decode strictly and kustomize knows how to merge them), and
// no Secret (envgen.cue holds no secret values). The kinds envgen
// generates (Pod too) can be patched.
var Kinds = map[string]Kind{
	"ConfigMap":               {"v1", func() Object { return &corev1.ConfigMap{} }},
	"Service":                 {"v1", func() Object { return &corev1.Service{} }},
	"ServiceAccount":          {"v1", func() Object { return &corev1.ServiceAccount{} }},
	"Pod":                     {"v1", func() Object { return &corev1.Pod{} }},
	"Deployment":              {"apps/v1", func() Object { return &appsv1.Deployment{} }},
	"HorizontalPodAutoscaler": {"autoscaling/v2", func() Object { return &autoscalingv2.HorizontalPodAutoscaler{} }},
	"Job":                     {"batch/v1", func() Object { return &batchv1.Job{} }},
	"CronJob":                 {"batch/v1", func() Object { return &batchv1.CronJob{} }},
	"Ingress":                 {"networking.k8s.io/v1", func() Object { return &networkingv1.Ingress{} }},
	"NetworkPolicy":           {"networking.k8s.io/v1", func() Object { return &networkingv1.NetworkPolicy{} }},
	"PodDisruptionBudget":     {"policy/v1", func() Object { return &policyv1.PodDisruptionBudget{} }},
	"Role":                    {"rbac.authorization.k8s.io/v1", func() Object { return &rbacv1.Role{} }},
	"RoleBinding":             {"rbac.authorization.k8s.io/v1", func() Object { return &rbacv1.RoleBinding{} }},
}

// BuildNamespaceKinds are the kinds envgen run's account creates in a
// build namespace (runner's build roles grant exactly these, a test holds
// them together): the ci overlay leaves an object of another kind out
// (a ServiceAccount, a Role or RoleBinding, a Job, a CronJob, an Ingress)
// rather than fail the run when it is applied. NetworkPolicies stay in the
// overlay, as the service's own, and run does not apply them.
var BuildNamespaceKinds = map[string]bool{
	"ConfigMap": true, "Service": true, "Pod": true, "Deployment": true,
	"HorizontalPodAutoscaler": true, "PodDisruptionBudget": true, "NetworkPolicy": true,
}

// AddableKinds are the Kinds an environment may add as objects: Pods are
// envgen's own (the build).
func AddableKinds() []string {
	var out []string
	for k := range Kinds {
		if k != "Pod" {
			out = append(out, k)
		}
	}
	return out
}

// UnknownField returns the path of the first field of data (in sorted
// order) that the type of obj does not have, or nil. Keys starting with
// $ (strategic merge directives) are skipped. List items are "[i]".
func UnknownField(data map[string]any, obj Object) []string {
	return walk(data, reflect.TypeOf(obj), nil)
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

func walk(v any, t reflect.Type, path []string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshaler) {
		return nil // a Quantity, an IntOrString, a Time: decoded by the type
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil // a type error, which Decode reports
		}
		fields := jsonFields(t)
		for _, k := range sortedKeys(m) {
			if strings.HasPrefix(k, "$") {
				continue
			}
			ft, ok := fields[k]
			if !ok {
				return append(path, k)
			}
			if p := walk(m[k], ft, append(path, k)); p != nil {
				return p
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for _, k := range sortedKeys(m) {
			if p := walk(m[k], t.Elem(), append(path, k)); p != nil {
				return p
			}
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			return nil
		}
		for i, item := range list {
			if p := walk(item, t.Elem(), append(path, fmt.Sprintf("[%d]", i))); p != nil {
				return p
			}
		}
	}
	return nil
}

// jsonFields maps a struct's JSON field names to their types, with the
// fields of inlined structs (TypeMeta, ObjectMeta's) at the same level.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range jsonFields(ft) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// WithoutDirectives is data without the strategic merge directives ($patch,
// $setElementOrder/…), which no API type has.
func WithoutDirectives(data any) any {
	switch v := data.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, item := range v {
			if !strings.HasPrefix(k, "$") {
				out[k] = WithoutDirectives(item)
			}
		}
		return out
	case []any:
		var out []any
		for _, item := range v {
			if m, ok := item.(map[string]any); ok && len(m) == 1 && m["$patch"] != nil {
				continue // - $patch: replace
			}
			out = append(out, WithoutDirectives(item))
		}
		return out
	}
	return data
}

// Decode decodes data into a new object of kind, refusing unknown fields
// and values of the wrong type.
func Decode(kind string, data map[string]any) (Object, error) {
	k, ok := Kinds[kind]
	if !ok {
		return nil, fmt.Errorf("unknown kind %s", kind)
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	obj := k.New()
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return obj, nil
}

// UnknownFieldIn is UnknownField for a value of any API type (a
// *corev1.Affinity): the path of the first field of data it does not have.
func UnknownFieldIn(data map[string]any, target any) []string {
	return walk(data, reflect.TypeOf(target), nil)
}

// DecodeInto decodes data strictly into target, a pointer to an API type.
func DecodeInto(data map[string]any, target any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}
