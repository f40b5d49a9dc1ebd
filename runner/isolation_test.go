package runner

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckIsolation: in a shared namespace, each way a Pod can name a
// Secret, a ConfigMap, a volume of data or an identity is refused unless
// the build owns it (ci.secrets, its overlay's ConfigMaps, the default or
// an allowed ServiceAccount) — optional references too, and in any Pod or
// Deployment of the overlay, not only the build Pod.
func TestCheckIsolation(t *testing.T) {
	secrets := map[string][]string{"svc-secrets": {"token"}}
	configMap := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "svc-files"}, "data": map[string]any{"a": "1"}}
	pod := func(spec map[string]any) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "svc-ci-build"}, "spec": spec}
	}
	deployment := func(spec map[string]any) map[string]any {
		return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "svc-extra"},
			"spec": map[string]any{"template": map[string]any{"spec": spec}}}
	}
	container := func(extra map[string]any) map[string]any {
		c := map[string]any{"name": "build", "image": "registry.example.org/svc:1"}
		for k, v := range extra {
			c[k] = v
		}
		return map[string]any{"containers": []any{c}}
	}
	withVolume := func(volume map[string]any) map[string]any {
		spec := container(nil)
		volume["name"] = "v"
		spec["volumes"] = []any{volume}
		return spec
	}
	yes := true
	for _, tc := range []struct {
		name string
		obj  map[string]any
		want string // "" when the build owns everything it names
	}{
		{"own secret and config", pod(container(map[string]any{
			"env": []any{
				map[string]any{"name": "TOKEN", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "svc-secrets", "key": "token"}}},
				map[string]any{"name": "A", "valueFrom": map[string]any{"configMapKeyRef": map[string]any{"name": "svc-files", "key": "a"}}},
			},
			"envFrom": []any{map[string]any{"secretRef": map[string]any{"name": "svc-secrets"}}},
		})), ""},
		{"env secret", pod(container(map[string]any{"env": []any{map[string]any{"name": "X", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "other-secrets", "key": "token"}}}}})), `reads Secret "other-secrets" into X (container build)`},
		{"optional env secret", pod(container(map[string]any{"env": []any{map[string]any{"name": "X", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "other-secrets", "key": "token", "optional": yes}}}}})), `reads Secret "other-secrets"`},
		{"env config", pod(container(map[string]any{"env": []any{map[string]any{"name": "X", "valueFrom": map[string]any{"configMapKeyRef": map[string]any{"name": "other-config", "key": "a"}}}}})), `reads ConfigMap "other-config"`},
		{"envFrom secret", pod(container(map[string]any{"envFrom": []any{map[string]any{"secretRef": map[string]any{"name": "other-secrets"}}}})), `reads Secret "other-secrets" through envFrom (container build)`},
		{"envFrom config", pod(container(map[string]any{"envFrom": []any{map[string]any{"configMapRef": map[string]any{"name": "other-config", "optional": yes}}}})), `reads ConfigMap "other-config" through envFrom`},
		{"secret volume", pod(withVolume(map[string]any{"secret": map[string]any{"secretName": "other-secrets", "optional": yes}})), `mounts Secret "other-secrets" (volume v)`},
		{"config volume", pod(withVolume(map[string]any{"configMap": map[string]any{"name": "other-config"}})), `mounts ConfigMap "other-config"`},
		{"projected secret", pod(withVolume(map[string]any{"projected": map[string]any{"sources": []any{
			map[string]any{"serviceAccountToken": map[string]any{"path": "t"}},
			map[string]any{"secret": map[string]any{"name": "other-secrets"}},
		}}})), `mounts Secret "other-secrets" (projected volume v)`},
		{"projected config", pod(withVolume(map[string]any{"projected": map[string]any{"sources": []any{map[string]any{"configMap": map[string]any{"name": "other-config"}}}}})), `mounts ConfigMap "other-config" (projected volume v)`},
		{"own projected", pod(withVolume(map[string]any{"projected": map[string]any{"sources": []any{map[string]any{"secret": map[string]any{"name": "svc-secrets"}}}}})), ""},
		{"csi", pod(withVolume(map[string]any{"csi": map[string]any{"driver": "secrets-store.csi.k8s.io"}})), `CSI volume of driver "secrets-store.csi.k8s.io"`},
		{"claim", pod(withVolume(map[string]any{"persistentVolumeClaim": map[string]any{"claimName": "other-data"}})), `mounts PersistentVolumeClaim "other-data"`},
		{"ephemeral", pod(withVolume(map[string]any{"ephemeral": map[string]any{"volumeClaimTemplate": map[string]any{"spec": map[string]any{}}}})), "claims an ephemeral volume"},
		{"pull secret", pod(map[string]any{"imagePullSecrets": []any{map[string]any{"name": "other-registry"}}, "containers": []any{map[string]any{"name": "build", "image": "x"}}}), `pulls with Secret "other-registry"`},
		{"service account", pod(map[string]any{"serviceAccountName": "envgen", "containers": []any{map[string]any{"name": "build", "image": "x"}}}), `runs as ServiceAccount "envgen"`},
		{"deprecated service account", pod(map[string]any{"serviceAccount": "envgen", "containers": []any{map[string]any{"name": "build", "image": "x"}}}), `runs as ServiceAccount "envgen"`},
		{"allowed account", pod(map[string]any{"serviceAccountName": "ci-builder", "containers": []any{map[string]any{"name": "build", "image": "x"}}}), ""},
		{"default account", pod(map[string]any{"serviceAccountName": "default", "containers": []any{map[string]any{"name": "build", "image": "x"}}}), ""},
		{"an objects Deployment", deployment(container(map[string]any{"envFrom": []any{map[string]any{"secretRef": map[string]any{"name": "other-secrets"}}}})), `Deployment svc-extra reads Secret "other-secrets" through envFrom`},
		{"autoscaler of another Deployment", map[string]any{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": map[string]any{"name": "x"},
			"spec": map[string]any{"scaleTargetRef": map[string]any{"kind": "Deployment", "name": "payments"}}}, `HorizontalPodAutoscaler x scales Deployment "payments"`},
		{"autoscaler of its own", map[string]any{"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": map[string]any{"name": "svc"},
			"spec": map[string]any{"scaleTargetRef": map[string]any{"kind": "Deployment", "name": "svc-extra"}}}, ""},
		{"budget of other Pods", map[string]any{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": map[string]any{"name": "x"},
			"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "payments"}}}}, "PodDisruptionBudget x selects Pods beyond the service's own"},
		{"budget of its own", map[string]any{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": map[string]any{"name": "svc"},
			"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/instance": "svc"}}}}, ""},
		{"resource claim", pod(map[string]any{"resourceClaims": []any{map[string]any{"name": "gpu", "resourceClaimName": "their-gpu"}}, "containers": []any{map[string]any{"name": "build", "image": "x"}}}), `claims resource "gpu"`},
		{"init container", pod(map[string]any{
			"initContainers": []any{map[string]any{"name": "setup", "image": "x", "envFrom": []any{map[string]any{"secretRef": map[string]any{"name": "other-secrets"}}}}},
			"containers":     []any{map[string]any{"name": "build", "image": "x"}},
		}), `(container setup)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ownDeployment := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "svc-extra"}, "spec": map[string]any{"template": map[string]any{"spec": container(nil)}}}
			err := CheckIsolation("svc", []map[string]any{configMap, ownDeployment, tc.obj}, secrets, []string{"ci-builder"})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused what the build owns: %v", err)
				}
				return
			}
			var isolation *IsolationError
			if !errors.As(err, &isolation) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an IsolationError saying %q", err, tc.want)
			}
		})
	}
}
