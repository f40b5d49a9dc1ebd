package runner

import (
	"fmt"
	"slices"
	"strings"

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
	MountPath       string // or the directory it is mounted at
	Placeholder     string // or the FILE/NAME of fileSecrets it fills
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
	if e.Placeholder != "" {
		file, name, _ := strings.Cut(e.Placeholder, "/")
		return fmt.Sprintf("%s fills ${%s} of the config file %s from Secret %q (key %q), which the build's namespace will not have: declare it in ci.secrets (%q: [%q]) and pass it with --secret %s/%s=env:VARIABLE, or give the file other secrets in ci (fileSecrets)",
			e.Workload, name, file, e.Name, e.Key, e.Name, e.Key, e.Name, e.Key)
	}
	if e.MountPath != "" {
		what, key := fmt.Sprintf("%s %q", e.Kind, e.Name), e.Key
		if key == "" {
			key = "KEY"
		} else {
			what += fmt.Sprintf(" (key %q)", e.Key)
		}
		if e.Kind == "ConfigMap" {
			fix = "mount it only in the environments that have it (environments: staging: mounts), not at the top level"
		} else {
			fix = fmt.Sprintf("declare it in ci.secrets (%q: [%q]) and pass each key with --secret %s/%s=env:VARIABLE", e.Name, key, e.Name, key)
		}
		return fmt.Sprintf("%s mounts %s at %s, which the build's namespace will not have: %s", e.Workload, what, e.MountPath, fix)
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
		if err := checkVolumes(workload, spec, secrets, configMaps); err != nil {
			return err
		}
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

// checkVolumes finds a Secret or ConfigMap volume whose object, or one of
// whose keys, the namespace will not have: the kubelet would not mount it
// and the Pod would wait in ContainerCreating until the timeout.
func checkVolumes(workload string, spec *corev1.PodSpec, secrets map[string][]string, configMaps map[string][]string) error {
	mountPath := func(volume string) string {
		for _, c := range spec.Containers {
			for _, m := range c.VolumeMounts {
				if m.Name == volume {
					return m.MountPath
				}
			}
		}
		return volume
	}
	missing := func(have []string, ok bool, items []corev1.KeyToPath) (string, bool) {
		if !ok {
			if len(items) > 0 {
				return items[0].Key, true
			}
			return "", true
		}
		for _, item := range items {
			if !slices.Contains(have, item.Key) {
				return item.Key, true
			}
		}
		return "", false
	}
	for _, v := range spec.Volumes {
		switch {
		case v.Secret != nil && !optional(v.Secret.Optional):
			have, ok := secrets[v.Secret.SecretName]
			if key, gone := missing(have, ok, v.Secret.Items); gone {
				return &ReferenceError{Kind: "Secret", Name: v.Secret.SecretName, Key: key, MountPath: mountPath(v.Name), Workload: workload}
			}
		case v.ConfigMap != nil && !optional(v.ConfigMap.Optional):
			have, ok := configMaps[v.ConfigMap.Name]
			if key, gone := missing(have, ok, v.ConfigMap.Items); gone {
				return &ReferenceError{Kind: "ConfigMap", Name: v.ConfigMap.Name, Key: key, MountPath: mountPath(v.Name), Workload: workload}
			}
		case v.Projected != nil:
			// fileSecrets: each item is a file's placeholder, FILE/NAME.
			for _, source := range v.Projected.Sources {
				if s := source.Secret; s != nil && !optional(s.Optional) {
					have, ok := secrets[s.Name]
					if key, gone := missing(have, ok, s.Items); gone {
						e := &ReferenceError{Kind: "Secret", Name: s.Name, Key: key, MountPath: mountPath(v.Name), Workload: workload}
						for _, item := range s.Items {
							if item.Key == key {
								e.Placeholder = item.Path
							}
						}
						return e
					}
				}
			}
		}
	}
	return nil
}
