package manifests

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"envgen.dev/envgen/internal/kubetypes"
	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

// The escape hatch: envgen.cue's patches of generated objects and its
// objects added as they are, for what its fields cannot say.

// ComponentExtra labels the objects envgen.cue adds as they are.
const ComponentExtra = "extra"

// HatchError says which patch or object of envgen.cue is wrong, at which
// field of it (nil: the whole entry).
type HatchError struct {
	// Section is "patches" or "objects"; Key is "Kind/name".
	Section, Key string
	Field        []string
	Msg          string
}

func (e *HatchError) Error() string {
	return fmt.Sprintf("%s.%q%s: %s", e.Section, e.Key, strings.Join(e.Field, "."), e.Msg)
}

// ApplyEscapeHatch patches generated objects with s.Patches and adds
// s.Objects. It returns a *HatchError for a patch of an object the
// environment does not have, a field the API type does not have, a value
// of the wrong type, an object that clashes with a generated one, a Pod
// that would no longer meet the restricted profile.
func ApplyEscapeHatch(env string, s *model.Service, objs []Object) ([]Object, error) {
	byID := map[string]int{}
	for i, obj := range objs {
		byID[kindOf(obj)+"/"+obj.GetName()] = i
	}
	for _, key := range sorted.Keys(s.Patches) {
		i, ok := byID[key]
		if !ok {
			return nil, &HatchError{Section: "patches", Key: key, Msg: fmt.Sprintf("envgen generates no %s here (it generates: %s)", key, strings.Join(sorted.Keys(byID), ", "))}
		}
		patched, err := patchObject(objs[i], s.Patches[key])
		if err == nil {
			err = withinClusterFacts(s, patched)
		}
		if err != nil {
			return nil, inEntry(err, "patches", key)
		}
		objs[i] = patched
	}
	for _, key := range sorted.Keys(s.Objects) {
		if _, clash := byID[key]; clash {
			return nil, &HatchError{Section: "objects", Key: key, Msg: "envgen generates this object already; change it with patches"}
		}
		kind, name, _ := strings.Cut(key, "/")
		for _, reserved := range []string{".patch", ".delete", ".jsonpatch"} {
			// The overlays name their files kind-name.yaml and
			// kind-name.patch.yaml (.delete, .jsonpatch): "w.patch" would
			// share the file of a patch of "w".
			if strings.HasSuffix(name, reserved) {
				return nil, &HatchError{Section: "objects", Key: key, Msg: "a name ending in .patch, .delete or .jsonpatch is reserved: the overlays' files of other objects are named so"}
			}
		}
		custom, isCustom := s.CustomKinds[kind]
		if _, builtIn := kubetypes.Kinds[kind]; isCustom && !builtIn && s.Objects[key]["apiVersion"] != custom.APIVersion {
			return nil, &HatchError{Section: "objects", Key: key, Field: []string{"apiVersion"}, Msg: fmt.Sprintf("customKinds declares %s as apiVersion %q", kind, custom.APIVersion)}
		}
		if isCustom && s.Objects[key]["apiVersion"] == custom.APIVersion {
			if env == CIEnvironment {
				continue // envgen run's account creates built-in kinds only
			}
			obj, err := customObject(s.Name, key, custom, s.Objects[key])
			if err != nil {
				return nil, inEntry(err, "objects", key)
			}
			objs = append(objs, obj)
			continue
		}
		if env == CIEnvironment && !kubetypes.BuildNamespaceKinds[kind] {
			continue // envgen run's account does not create this kind
		}
		obj, err := extraObject(s.Name, key, s.Objects[key])
		if err == nil {
			err = withinClusterFacts(s, obj)
		}
		if err != nil {
			return nil, inEntry(err, "objects", key)
		}
		objs = append(objs, obj)
	}
	Sort(objs)
	return objs, nil
}

// inEntry says which entry of envgen.cue a HatchError is about.
func inEntry(err error, section, key string) error {
	var he *HatchError
	if errors.As(err, &he) {
		he.Section, he.Key = section, key
	}
	return err
}

func kindOf(obj Object) string { return obj.GetObjectKind().GroupVersionKind().Kind }

// patchObject applies a strategic merge patch as kube-apiserver would,
// after checking every field of it against the object's type.
func patchObject(obj Object, patch map[string]any) (Object, error) {
	kind := kindOf(obj)
	if p := kubetypes.UnknownField(patch, obj); p != nil {
		return nil, &HatchError{Field: p, Msg: fmt.Sprintf("%s has no field %s", kind, p[len(p)-1])}
	}
	if _, err := kubetypes.Decode(kind, kubetypes.WithoutDirectives(patch).(map[string]any)); err != nil {
		return nil, &HatchError{Field: decodeErrorField(err), Msg: err.Error()}
	}
	if err := patchKeepsIdentity(patch); err != nil {
		return nil, err
	}
	original, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	patchJSON, err := json.Marshal(patch)
	if err != nil {
		return nil, err
	}
	merged, err := strategicpatch.StrategicMergePatch(original, patchJSON, obj)
	if err != nil {
		return nil, &HatchError{Msg: err.Error()}
	}
	out := kubetypes.Kinds[kind].New()
	if err := json.Unmarshal(merged, out); err != nil {
		return nil, &HatchError{Msg: err.Error()}
	}
	if err := keepsWhatEnvgenNeeds(obj, out); err != nil {
		return nil, err
	}
	if v := restrictedViolation(out); v != "" {
		return nil, &HatchError{Msg: "the patched Pod would not meet the Pod Security Standard \"restricted\" profile: " + v}
	}
	return out, nil
}

// patchKeepsIdentity refuses a patch that would replace or delete the
// object whole, or change what names it: kustomize finds the object by
// them, and envgen run by its name.
func patchKeepsIdentity(patch map[string]any) error {
	for _, field := range []string{"$patch", "apiVersion", "kind"} {
		if _, ok := patch[field]; ok {
			return &HatchError{Field: []string{field}, Msg: "a patch changes fields of the object; it cannot replace, delete or retype it"}
		}
	}
	meta, _ := patch["metadata"].(map[string]any)
	for _, field := range []string{"name", "namespace", "$patch"} {
		if _, ok := meta[field]; ok {
			return &HatchError{Field: []string{"metadata", field}, Msg: "a patch cannot rename the object, move it to another namespace or replace its metadata"}
		}
	}
	return nil
}

// keepsWhatEnvgenNeeds refuses a patched object that lost what envgen and
// kube-apiserver rely on: envgen's labels (envgen run and gc find objects
// by them), the Deployment's selector and the template labels it selects,
// a Pod's containers.
func keepsWhatEnvgenNeeds(before, after Object) error {
	for _, key := range []string{LabelName, LabelInstance, LabelComponent, LabelManagedBy} {
		if before.GetLabels()[key] != after.GetLabels()[key] {
			return &HatchError{Field: []string{"metadata", "labels"}, Msg: fmt.Sprintf("a patch cannot change or drop envgen's label %s", key)}
		}
	}
	if b, ok := before.(*appsv1.Deployment); ok {
		a := after.(*appsv1.Deployment)
		if !reflect.DeepEqual(b.Spec.Selector, a.Spec.Selector) {
			return &HatchError{Field: []string{"spec", "selector"}, Msg: "a patch cannot change the Deployment's selector (Kubernetes does not let it change, and it must match the Pods' labels)"}
		}
		for key, value := range b.Spec.Selector.MatchLabels {
			if a.Spec.Template.Labels[key] != value {
				return &HatchError{Field: []string{"spec", "template", "metadata", "labels"}, Msg: fmt.Sprintf("a patch cannot change or drop the Pods' label %s: the Deployment selects them by it", key)}
			}
		}
	}
	// Every label envgen gives the Pods stays: the Services, network
	// policies and disruption budgets select the Pods by them (a job's
	// network policy by its instance label; the main Service by
	// routed-via), and nothing else checks that they still match.
	if beforePod, _ := PodOf(before); beforePod != nil {
		afterPod, _ := PodOf(after)
		for _, key := range sorted.Keys(beforePod.Labels) {
			if afterPod.Labels[key] != beforePod.Labels[key] {
				return &HatchError{Field: append(podTemplatePath(before), "metadata", "labels"), Msg: fmt.Sprintf("a patch cannot change or drop the Pods' label %s: envgen's selectors (the Service, network policy, disruption budget) find the Pods by it", key)}
			}
		}
	}
	if field, changed := selectorChanged(before, after); changed {
		return &HatchError{Field: field, Msg: fmt.Sprintf("a patch cannot change what the %s selects: envgen's Pods would no longer be the ones it means", kindOf(before))}
	}
	if _, spec := PodOf(after); spec != nil && len(spec.Containers) == 0 {
		return &HatchError{Msg: "the patched Pod would have no containers"}
	}
	return nil
}

// extraObject decodes one of envgen.cue's objects: its kind and name from
// the key, envgen's labels beside its own.
func extraObject(service, key string, data map[string]any) (Object, error) {
	kind, name, _ := strings.Cut(key, "/")
	k, ok := kubetypes.Kinds[kind]
	if !ok || kind == "Pod" {
		return nil, &HatchError{Msg: fmt.Sprintf("envgen adds objects of these kinds only: %s (namespaced, built into Kubernetes, no Secret: envgen.cue holds no secret values)", strings.Join(sorted.Keys(addable()), ", "))}
	}
	data = maps.Clone(data)
	if v, ok := data["apiVersion"]; !ok || v != k.APIVersion {
		return nil, &HatchError{Field: []string{"apiVersion"}, Msg: fmt.Sprintf("a %s is apiVersion %q", kind, k.APIVersion)}
	}
	if v, ok := data["kind"]; ok && v != kind {
		return nil, &HatchError{Field: []string{"kind"}, Msg: fmt.Sprintf("the key says %s", kind)}
	}
	data["kind"] = kind
	meta, _ := data["metadata"].(map[string]any)
	meta = maps.Clone(meta)
	if meta == nil {
		meta = map[string]any{}
	}
	for field, what := range map[string]string{"name": "the key names the object", "namespace": "the object lives in the namespace the overlay is applied to"} {
		if _, ok := meta[field]; ok {
			return nil, &HatchError{Field: []string{"metadata", field}, Msg: what}
		}
	}
	meta["name"] = name
	data["metadata"] = meta
	obj := k.New()
	if p := kubetypes.UnknownField(data, obj); p != nil {
		return nil, &HatchError{Field: p, Msg: fmt.Sprintf("%s has no field %s", kind, p[len(p)-1])}
	}
	obj, err := kubetypes.Decode(kind, data)
	if err != nil {
		return nil, &HatchError{Field: decodeErrorField(err), Msg: err.Error()}
	}
	l := obj.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	maps.Copy(l, labels(service, name, ComponentExtra))
	obj.SetLabels(l)
	if v := restrictedViolation(obj); v != "" {
		return nil, &HatchError{Msg: "its Pod would not meet the Pod Security Standard \"restricted\" profile: " + v}
	}
	return obj, nil
}

func addable() map[string]bool {
	out := map[string]bool{}
	for _, k := range kubetypes.AddableKinds() {
		out[k] = true
	}
	return out
}

// goStructField is where encoding/json says a value of the wrong type is:
// "Go struct field DeploymentSpec.spec.replicas of type int32".
var goStructField = regexp.MustCompile(`Go struct field [A-Za-z0-9]+\.(\S+) of type`)

// decodeErrorField is the field a decoding error names, as far as
// encoding/json says (without list indexes; the compiler reports the
// closest field it finds).
func decodeErrorField(err error) []string {
	if m := goStructField.FindStringSubmatch(err.Error()); m != nil {
		return strings.Split(m[1], ".")
	}
	return nil
}

// selectorChanged says whether a patch changed how a Service, network
// policy, disruption budget or autoscaler finds the service's Pods (or
// Deployment), and where.
func selectorChanged(before, after Object) ([]string, bool) {
	switch b := before.(type) {
	case *corev1.Service:
		return []string{"spec", "selector"}, !reflect.DeepEqual(b.Spec.Selector, after.(*corev1.Service).Spec.Selector)
	case *networkingv1.NetworkPolicy:
		return []string{"spec", "podSelector"}, !reflect.DeepEqual(b.Spec.PodSelector, after.(*networkingv1.NetworkPolicy).Spec.PodSelector)
	case *policyv1.PodDisruptionBudget:
		return []string{"spec", "selector"}, !reflect.DeepEqual(b.Spec.Selector, after.(*policyv1.PodDisruptionBudget).Spec.Selector)
	case *autoscalingv2.HorizontalPodAutoscaler:
		return []string{"spec", "scaleTargetRef"}, !reflect.DeepEqual(b.Spec.ScaleTargetRef, after.(*autoscalingv2.HorizontalPodAutoscaler).Spec.ScaleTargetRef)
	}
	return nil, false
}

// podTemplatePath is where an object of envgen's keeps its Pods' template.
func podTemplatePath(obj Object) []string {
	switch obj.(type) {
	case *appsv1.Deployment, *batchv1.Job:
		return []string{"spec", "template"}
	case *batchv1.CronJob:
		return []string{"spec", "jobTemplate", "spec", "template"}
	}
	return nil // a Pod's metadata is its own
}

// withinClusterFacts holds a patched or added object to the checks envgen
// makes on its own fields: a node port in the cluster's range.
func withinClusterFacts(s *model.Service, obj Object) error {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil
	}
	r := s.NodePortRange()
	if n := svc.Spec.HealthCheckNodePort; n != 0 && (n < r.Min || n > r.Max) {
		return &HatchError{Field: []string{"spec", "healthCheckNodePort"}, Msg: fmt.Sprintf("node port %d is outside the cluster's range %d–%d (cluster.nodePorts, Kubernetes' default unless set)", n, r.Min, r.Max)}
	}
	for i, p := range svc.Spec.Ports {
		if p.NodePort != 0 && (p.NodePort < r.Min || p.NodePort > r.Max) {
			return &HatchError{Field: []string{"spec", "ports", fmt.Sprintf("[%d]", i), "nodePort"}, Msg: fmt.Sprintf("node port %d is outside the cluster's range %d–%d (cluster.nodePorts, Kubernetes' default unless set)", p.NodePort, r.Min, r.Max)}
		}
	}
	return nil
}
