package runner

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"envgen.dev/envgen/manifests"
)

// IsolationError says what a build in a shared namespace (run
// --namespace) would reach that is not its own: another service's Secret
// or ConfigMap there, a volume of someone's data, another identity.
type IsolationError struct {
	Workload string // "Pod svc-ci-build", "Deployment svc-db"
	What     string // "reads Secret "x" through envFrom (container build)"
}

func (e *IsolationError) Error() string {
	return fmt.Sprintf("%s %s, which is not this build's: in a shared namespace (--namespace) a build reads only the Secrets its ci.secrets declares (created by the run) and the ConfigMaps of its ci overlay, and runs as the namespace's default ServiceAccount or one that run --allow-service-account names",
		e.Workload, e.What)
}

// CheckIsolation finds the first way a Pod of the ci overlay (the build
// Pods, test services and any Pod or Deployment of objects) would read
// what the build does not own in a shared namespace, which holds other
// builds' Secrets and other services' objects: every way a Pod names a
// Secret or ConfigMap — env, envFrom, volumes, projected volumes, image
// pull secrets — whether optional or not; CSI, persistent and ephemeral
// volumes (someone's data, or a driver's); a ServiceAccount other than
// the namespace's default and allowedAccounts; an autoscaler of another
// Deployment, a disruption budget of other Pods. (The overlay's
// NetworkPolicies are not applied in a build's namespace.)
func CheckIsolation(service string, objects []map[string]any, secrets map[string][]string, allowedAccounts []string) error {
	configMaps := map[string]bool{}
	for _, m := range objects {
		if u := (&unstructured.Unstructured{Object: m}); u.GetKind() == "ConfigMap" {
			configMaps[u.GetName()] = true
		}
	}
	owns := func(kind, name string) bool {
		if kind == "Secret" {
			_, ok := secrets[name]
			return ok
		}
		return configMaps[name]
	}
	deployments := map[string]bool{}
	for _, m := range objects {
		if u := (&unstructured.Unstructured{Object: m}); u.GetKind() == "Deployment" {
			deployments[u.GetName()] = true
		}
	}
	for _, m := range objects {
		u := &unstructured.Unstructured{Object: m}
		var at []string
		switch u.GetKind() {
		case "Pod":
			at = []string{"spec"}
		case "Deployment":
			at = []string{"spec", "template", "spec"}
		case "HorizontalPodAutoscaler":
			// It would scale what it targets: another service's Deployment.
			kind, _, _ := unstructured.NestedString(m, "spec", "scaleTargetRef", "kind")
			name, _, _ := unstructured.NestedString(m, "spec", "scaleTargetRef", "name")
			if kind != "Deployment" || !deployments[name] {
				return &IsolationError{Workload: "HorizontalPodAutoscaler " + u.GetName(), What: fmt.Sprintf("scales %s %q", kind, name)}
			}
			continue
		case "PodDisruptionBudget":
			// It would hold what it selects against evictions and drains.
			name, _, _ := unstructured.NestedString(m, "spec", "selector", "matchLabels", manifests.LabelName)
			instance, _, _ := unstructured.NestedString(m, "spec", "selector", "matchLabels", manifests.LabelInstance)
			if name != service && instance != service {
				return &IsolationError{Workload: "PodDisruptionBudget " + u.GetName(), What: fmt.Sprintf("selects Pods beyond the service's own (matchLabels %s or %s: %s)", manifests.LabelInstance, manifests.LabelName, service)}
			}
			continue
		default:
			continue
		}
		// No copy: the objects hold Go ints, which a deep copy refuses.
		raw, _, _ := unstructured.NestedFieldNoCopy(m, at...)
		specMap, _ := raw.(map[string]any)
		var spec corev1.PodSpec
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(specMap, &spec); err != nil {
			return err
		}
		if len(spec.ResourceClaims) > 0 {
			return &IsolationError{Workload: u.GetKind() + " " + u.GetName(), What: fmt.Sprintf("claims resource %q (resourceClaims)", spec.ResourceClaims[0].Name)}
		}
		if what := unowned(&spec, owns, allowedAccounts); what != "" {
			return &IsolationError{Workload: u.GetKind() + " " + u.GetName(), What: what}
		}
	}
	return nil
}

// unowned says how spec reaches what the build does not own, or "".
func unowned(spec *corev1.PodSpec, owns func(kind, name string) bool, allowedAccounts []string) string {
	for _, account := range []string{spec.ServiceAccountName, spec.DeprecatedServiceAccount} {
		if account != "" && account != "default" && !slices.Contains(allowedAccounts, account) {
			return fmt.Sprintf("runs as ServiceAccount %q", account)
		}
	}
	for _, ref := range spec.ImagePullSecrets {
		if !owns("Secret", ref.Name) {
			return fmt.Sprintf("pulls with Secret %q (imagePullSecrets)", ref.Name)
		}
	}
	for _, v := range spec.Volumes {
		switch {
		case v.Secret != nil && !owns("Secret", v.Secret.SecretName):
			return fmt.Sprintf("mounts Secret %q (volume %s)", v.Secret.SecretName, v.Name)
		case v.ConfigMap != nil && !owns("ConfigMap", v.ConfigMap.Name):
			return fmt.Sprintf("mounts ConfigMap %q (volume %s)", v.ConfigMap.Name, v.Name)
		case v.CSI != nil:
			return fmt.Sprintf("mounts a CSI volume of driver %q (volume %s), which may read secrets from outside the namespace", v.CSI.Driver, v.Name)
		case v.PersistentVolumeClaim != nil:
			return fmt.Sprintf("mounts PersistentVolumeClaim %q (volume %s)", v.PersistentVolumeClaim.ClaimName, v.Name)
		case v.Ephemeral != nil:
			return fmt.Sprintf("claims an ephemeral volume (volume %s)", v.Name)
		case v.Projected != nil:
			for _, source := range v.Projected.Sources {
				if source.Secret != nil && !owns("Secret", source.Secret.Name) {
					return fmt.Sprintf("mounts Secret %q (projected volume %s)", source.Secret.Name, v.Name)
				}
				if source.ConfigMap != nil && !owns("ConfigMap", source.ConfigMap.Name) {
					return fmt.Sprintf("mounts ConfigMap %q (projected volume %s)", source.ConfigMap.Name, v.Name)
				}
			}
		}
	}
	containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, c := range containers {
		for _, from := range c.EnvFrom {
			if from.SecretRef != nil && !owns("Secret", from.SecretRef.Name) {
				return fmt.Sprintf("reads Secret %q through envFrom (container %s)", from.SecretRef.Name, c.Name)
			}
			if from.ConfigMapRef != nil && !owns("ConfigMap", from.ConfigMapRef.Name) {
				return fmt.Sprintf("reads ConfigMap %q through envFrom (container %s)", from.ConfigMapRef.Name, c.Name)
			}
		}
		for _, env := range c.Env {
			from := env.ValueFrom
			switch {
			case from == nil:
			case from.SecretKeyRef != nil && !owns("Secret", from.SecretKeyRef.Name):
				return fmt.Sprintf("reads Secret %q into %s (container %s)", from.SecretKeyRef.Name, env.Name, c.Name)
			case from.ConfigMapKeyRef != nil && !owns("ConfigMap", from.ConfigMapKeyRef.Name):
				return fmt.Sprintf("reads ConfigMap %q into %s (container %s)", from.ConfigMapKeyRef.Name, env.Name, c.Name)
			}
		}
	}
	return ""
}
