package imagebuild

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/cmd/buildkitd/config"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// The configuration envgen writes is read by buildkitd's own loader into
// the policy it means: an OCI worker only, GC on, a duration policy and a
// size cap apart, the insecure registry.
func TestDaemonConfigIsBuildkitds(t *testing.T) {
	text, err := daemonConfig(DaemonOptions{MaxUsedSpace: "2Gi", KeepDuration: "168h", InsecureRegistries: []string{"127.0.0.1:5000"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(strings.NewReader(text))
	if err != nil {
		t.Fatalf("buildkitd refuses it: %v\n%s", err, text)
	}
	oci := cfg.Workers.OCI
	if oci.Enabled == nil || !*oci.Enabled || oci.GC == nil || !*oci.GC {
		t.Errorf("OCI worker or its GC off: %+v", oci)
	}
	if cfg.Workers.Containerd.Enabled == nil || *cfg.Workers.Containerd.Enabled {
		t.Error("the containerd worker is not disabled")
	}
	if len(oci.GCPolicy) != 2 {
		t.Fatalf("policies %+v", oci.GCPolicy)
	}
	if p := oci.GCPolicy[0]; p.KeepDuration.Duration != 168*time.Hour || p.MaxUsedSpace.Bytes != 0 || !p.All {
		t.Errorf("duration policy %+v", p)
	}
	if p := oci.GCPolicy[1]; p.MaxUsedSpace.Bytes != 2<<30 || p.KeepDuration.Duration != 0 || !p.All {
		t.Errorf("size policy %+v", p)
	}
	if r := cfg.Registries["127.0.0.1:5000"]; r.PlainHTTP == nil || !*r.PlainHTTP {
		t.Errorf("registry %+v", r)
	}
	if oci.NetworkConfig.Mode != "bridge" {
		t.Errorf("RUN steps' network %q, want bridge", oci.NetworkConfig.Mode)
	}
	if oci.Labels[TrustLabel] != "untrusted" {
		t.Errorf("worker labels %v", oci.Labels)
	}
	if cfg.Root != stateDir {
		t.Errorf("root %s", cfg.Root)
	}
}

func TestDaemonObjects(t *testing.T) {
	objs, err := Daemon(DaemonOptions{Namespace: "buildkit", Name: "buildkitd", Image: "moby/buildkit:v0.34.2", Replicas: 2, Storage: "50Gi", MaxUsedSpace: "40Gi"})
	if err != nil {
		t.Fatal(err)
	}
	ns := objs[0].(*corev1.Namespace)
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "privileged" {
		t.Errorf("namespace labels %v", ns.Labels)
	}
	// The build namespaces' label would open the daemon's namespace to
	// the CI account (the admission guard) and to envgen gc.
	for _, obj := range objs {
		if m, ok := obj.(interface{ GetLabels() map[string]string }); ok && m.GetLabels()["app.kubernetes.io/managed-by"] == "envgen" {
			t.Errorf("%T carries app.kubernetes.io/managed-by=envgen", obj)
		}
	}
	sts := objs[3].(*appsv1.StatefulSet)
	if len(sts.Spec.VolumeClaimTemplates) != 1 || *sts.Spec.Replicas != 2 {
		t.Errorf("statefulset %+v", sts.Spec)
	}
	if got := DaemonAddress(DaemonOptions{Namespace: "buildkit", Name: "buildkitd"}, 1); got != "kube-pod://buildkitd-1?namespace=buildkit" {
		t.Errorf("address %s", got)
	}
	if _, err := Daemon(DaemonOptions{Namespace: "b", Name: "b", Replicas: 1, Storage: "lots"}); err == nil {
		t.Error("a storage that is no quantity was accepted")
	}
}
