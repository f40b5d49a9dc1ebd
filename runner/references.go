package runner

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// ReferenceError says that a Pod of the run reads a Secret or ConfigMap
// key its namespace will not have. The namespace is new: it holds only
// the Secrets of ci.secrets and the objects of the ci overlay. On a real
// node the container would never start (CreateContainerConfigError);
// envgen says so before creating anything.
type ReferenceError struct {
	Kind, Name, Key string // Secret or ConfigMap, its name, the key
	Variable        string // the environment variable that reads it
	Container       string
	Workload        string // the build Pod, or a test service's Deployment
	Stage           string // the stage whose Pod it is, if any
	// Drop is the envgen.cue field that would drop the variable, when the
	// caller knows it; else ci.env's.
	Drop string
}

func (e *ReferenceError) Error() string {
	fix := fmt.Sprintf("declare it in ci.secrets (%q: [%q]) and pass it with --secret %s/%s=env:VARIABLE", e.Name, e.Key, e.Name, e.Key)
	if e.Kind == "ConfigMap" {
		fix = "give the variable a literal value in ci"
	}
	drop := e.Drop
	if drop == "" {
		drop = "ci.env." + e.Variable
	}
	return fmt.Sprintf("%s (container %s) reads %s %q key %q into %s, which the build's namespace will not have: %s, or drop the variable (%s: null)",
		e.Workload, e.Container, e.Kind, e.Name, e.Key, e.Variable, fix, drop)
}

// CheckReferences finds the first Secret or ConfigMap key that a Pod of
// the run (the build Pod, the test services' Deployments) reads and its
// namespace will not have: Secrets come from secrets (ci.secrets), and
// ConfigMaps from the objects themselves. Workloads that do not run in ci
// (the service's Deployment at zero replicas) are not checked.
func CheckReferences(objects []map[string]any, secrets map[string][]string) error {
	configMaps := map[string][]string{}
	for _, m := range objects {
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "ConfigMap" {
			data, _ := m["data"].(map[string]any)
			for key := range data {
				configMaps[u.GetName()] = append(configMaps[u.GetName()], key)
			}
		}
	}
	builds, _, others, err := split(objects)
	if err != nil {
		return err
	}
	check := func(workload, stage string, spec *corev1.PodSpec) error {
		containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
		for _, c := range containers {
			for _, env := range c.Env {
				from := env.ValueFrom
				switch {
				case from == nil:
				case from.SecretKeyRef != nil && !optional(from.SecretKeyRef.Optional):
					ref := from.SecretKeyRef
					if !slices.Contains(secrets[ref.Name], ref.Key) {
						return &ReferenceError{Kind: "Secret", Name: ref.Name, Key: ref.Key, Variable: env.Name, Container: c.Name, Workload: workload, Stage: stage}
					}
				case from.ConfigMapKeyRef != nil && !optional(from.ConfigMapKeyRef.Optional):
					ref := from.ConfigMapKeyRef
					if !slices.Contains(configMaps[ref.Name], ref.Key) {
						return &ReferenceError{Kind: "ConfigMap", Name: ref.Name, Key: ref.Key, Variable: env.Name, Container: c.Name, Workload: workload, Stage: stage}
					}
				}
			}
		}
		return nil
	}
	for _, b := range builds {
		var pod corev1.Pod
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(b.pod.Object, &pod); err != nil {
			return err
		}
		workload := "the build Pod"
		if b.stage != "" {
			workload = "the Pod of stage " + b.stage
		}
		if err := check(workload, b.stage, &pod.Spec); err != nil {
			return err
		}
	}
	for _, u := range others {
		if u.GetKind() != "Deployment" || !isTestService(u) {
			continue
		}
		// No copy: the objects hold Go ints, which a deep copy refuses.
		spec, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "template", "spec")
		specMap, _ := spec.(map[string]any)
		var podSpec corev1.PodSpec
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(specMap, &podSpec); err != nil {
			return err
		}
		if err := check("test service "+u.GetName(), "", &podSpec); err != nil {
			return err
		}
	}
	return nil
}

func optional(b *bool) bool { return b != nil && *b }
