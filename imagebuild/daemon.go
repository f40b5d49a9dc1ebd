package imagebuild

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DaemonOptions describe the buildkitd a platform team runs for envgen.
type DaemonOptions struct {
	Namespace string
	Name      string // the StatefulSet; its Pods are Name-0, Name-1, …
	Image     string // moby/buildkit, pinned
	Replicas  int32
	// Port is where buildkitd listens on its Pod's loopback (default
	// DefaultPort).
	Port int
	// MaxUsedSpace is the most the daemon's cache may use (BuildKit's
	// gcpolicy maxUsedSpace): past it, a GC sweep a minute after a build
	// removes what was used least recently. KeepDuration removes what
	// no build used for that long.
	MaxUsedSpace string
	KeepDuration string
	// Storage is the size of each Pod's PersistentVolumeClaim, where the
	// cache survives restarts; "" for an emptyDir (the cache lives as
	// long as the Pod; the registry cache outlives it).
	Storage string
	// InsecureRegistries are registries reached over plain HTTP (a
	// test's).
	InsecureRegistries []string
	// Trusted labels the daemon as the one for reviewed code.
	Trusted bool
	// RunNetwork is the network of RUN steps: "bridge" (the default, a
	// network namespace of each step's own, through BuildKit's CNI
	// bridge) or "host" (the daemon Pod's: a step could reach the
	// daemon's own port, so only for a daemon that runs nothing untrusted,
	// or a test).
	RunNetwork string
	CPU        string
	Memory     string
}

// The daemon's labels and ports.
const (
	DaemonComponent = "buildkitd"
	daemonConfigKey = "buildkitd.toml"
	stateDir        = "/var/lib/buildkit"
	// configDir is not /etc/buildkit, where BuildKit's image keeps the
	// CNI configuration of its bridge network.
	configDir = "/etc/envgen-buildkit"
)

// DaemonAddress is how envgen reaches replica i of the daemon: a
// port-forward through the API server to its loopback port.
func DaemonAddress(o DaemonOptions, replica int) string {
	a := fmt.Sprintf("kube-pod://%s-%d?namespace=%s", o.Name, replica, o.Namespace)
	if o.Port != 0 && o.Port != DefaultPort {
		a += "&port=" + strconv.Itoa(o.Port)
	}
	return a
}

// Daemon is what a platform team applies to run buildkitd for envgen:
//
//   - a Namespace of its own, labelled Pod Security "privileged": rootful
//     buildkitd runs each RUN step in containers of its own (runc, mounts,
//     namespaces), which needs a privileged container; nothing else
//     belongs in that namespace;
//   - a ServiceAccount without a token (buildkitd never calls the API);
//   - its configuration: the OCI worker, the GC policy that bounds its
//     disk, the registries it may reach over plain HTTP;
//   - a StatefulSet: stable Pod names (envgen rbac grants a port-forward
//     to exactly those), a volume per Pod for the cache;
//   - a NetworkPolicy that lets nothing in: buildkitd listens on its
//     loopback only and is reached by port-forward through the API
//     server, which RBAC guards (pods/portforward on these Pods) and the
//     Pod network does not cross. Its egress is open: RUN steps fetch
//     packages, and the daemon pushes to the registry.
func Daemon(o DaemonOptions) ([]any, error) {
	if o.Replicas < 1 {
		return nil, fmt.Errorf("replicas must be at least 1")
	}
	// Never app.kubernetes.io/managed-by=envgen: that label marks the
	// build namespaces, where envgen rbac's admission guard lets the CI
	// account create Pods and exec, and which envgen gc deletes. The
	// daemon's namespace is the one place the account must not reach.
	labels := map[string]string{
		"app.kubernetes.io/name":     DaemonComponent,
		"app.kubernetes.io/instance": o.Name,
		"app.kubernetes.io/part-of":  "envgen",
	}
	if o.Trusted {
		labels[TrustLabel] = "trusted"
	} else {
		labels[TrustLabel] = "untrusted"
	}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: labels}
	}
	config, err := daemonConfig(o)
	if err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Namespace, Labels: map[string]string{
			"app.kubernetes.io/part-of":          "envgen",
			"pod-security.kubernetes.io/enforce": "privileged",
		}},
	}
	sa := &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   meta(o.Name),
		AutomountServiceAccountToken: ptr(false),
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta(o.Name),
		Data:       map[string]string{daemonConfigKey: config},
	}
	sts, err := daemonStatefulSet(o, labels)
	if err != nil {
		return nil, err
	}
	policy := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: meta(o.Name),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/instance": o.Name}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
	return []any{ns, sa, cm, sts, policy}, nil
}

func daemonStatefulSet(o DaemonOptions, labels map[string]string) (*appsv1.StatefulSet, error) {
	resources := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	for name, value := range map[corev1.ResourceName]string{corev1.ResourceCPU: o.CPU, corev1.ResourceMemory: o.Memory} {
		if value == "" {
			continue
		}
		q, err := resource.ParseQuantity(value)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", name, value, err)
		}
		resources.Requests[name] = q
		if name == corev1.ResourceMemory {
			resources.Limits[name] = q
		}
	}
	port := o.Port
	if port == 0 {
		port = DefaultPort
	}
	addr := "tcp://127.0.0.1:" + strconv.Itoa(port)
	container := corev1.Container{
		Name:  "buildkitd",
		Image: o.Image,
		Args:  []string{"--addr", addr, "--config", configDir + "/" + daemonConfigKey},
		// Privileged: see Daemon. The namespace says so to Pod Security.
		SecurityContext: &corev1.SecurityContext{Privileged: ptr(true)},
		Resources:       resources,
		ReadinessProbe: &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{
				Command: []string{"buildctl", "--addr", addr, "debug", "workers"},
			}},
			PeriodSeconds: 5, TimeoutSeconds: 5,
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "config", MountPath: configDir, ReadOnly: true},
			{Name: "state", MountPath: stateDir},
		},
	}
	spec := corev1.PodSpec{
		ServiceAccountName:            o.Name,
		AutomountServiceAccountToken:  ptr(false),
		EnableServiceLinks:            ptr(false),
		TerminationGracePeriodSeconds: ptr(int64(60)), // running builds are cancelled, the cache closed cleanly
		Containers:                    []corev1.Container{container},
		Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: o.Name}},
		}}},
	}
	sts := &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: labels},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr(o.Replicas),
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/instance": o.Name}},
			Template:            corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
	if o.Storage == "" {
		sts.Spec.Template.Spec.Volumes = append(sts.Spec.Template.Spec.Volumes, corev1.Volume{Name: "state", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		return sts, nil
	}
	size, err := resource.ParseQuantity(o.Storage)
	if err != nil {
		return nil, fmt.Errorf("storage %q: %w", o.Storage, err)
	}
	sts.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{
		ObjectMeta: metav1.ObjectMeta{Name: "state"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}}
	return sts, nil
}

// daemonConfig is buildkitd.toml: the OCI worker (runc, the daemon's
// own snapshots) with a GC policy, no containerd worker (the node's
// containerd stays out of reach), the insecure registries.
func daemonConfig(o DaemonOptions) (string, error) {
	var b strings.Builder
	trust := "untrusted"
	if o.Trusted {
		trust = "trusted"
	}
	fmt.Fprintf(&b, "# Written by envgen buildkit.\nroot = %q\n\n[worker.oci]\n  enabled = true\n  gc = true\n", stateDir)
	fmt.Fprintf(&b, "  # Which builds this daemon is for: envgen checks it before a build.\n  labels = {%q = %q}\n", TrustLabel, trust)
	network := o.RunNetwork
	if network == "" {
		network = "bridge"
	}
	if network != "bridge" && network != "host" {
		return "", fmt.Errorf("run network %q: bridge or host", network)
	}
	fmt.Fprintf(&b, "  # RUN steps in a network namespace of their own (bridge): in the daemon's\n  # (host) a step could reach the daemon's port, which is unauthenticated.\n  networkMode = %q\n", network)
	// Two policies: BuildKit only deletes, within one, what is older than
	// its keepDuration, so a cap with a duration would not hold.
	b.WriteString("  # A sweep runs a minute after a build.\n")
	if o.KeepDuration != "" {
		fmt.Fprintf(&b, "  [[worker.oci.gcpolicy]] # what no build used for this long\n    all = true\n    keepDuration = %q\n", o.KeepDuration)
	}
	if o.MaxUsedSpace != "" {
		q, err := resource.ParseQuantity(o.MaxUsedSpace)
		if err != nil {
			return "", fmt.Errorf("max used space %q: %w", o.MaxUsedSpace, err)
		}
		fmt.Fprintf(&b, "  [[worker.oci.gcpolicy]] # the least recently used, past this size\n    all = true\n    maxUsedSpace = \"%d\"\n", q.Value())
	}
	b.WriteString("\n[worker.containerd]\n  enabled = false\n")
	registries := append([]string(nil), o.InsecureRegistries...)
	sort.Strings(registries)
	for _, r := range registries {
		fmt.Fprintf(&b, "\n[registry.%q]\n  http = true\n  insecure = true\n", r)
	}
	return b.String(), nil
}

func ptr[T any](v T) *T { return &v }

// PodAddress is the namespace and Pod of a kube-pod:// address; ok is
// false for any other kind of address.
func PodAddress(address string) (namespace, pod string, ok bool, err error) {
	a, err := parseAddress(address)
	if err != nil || a == nil {
		return "", "", false, err
	}
	return a.namespace, a.pod, true, nil
}

// PortForwardRole lets its subject reach the named daemon Pods of
// namespace by port-forward, and nothing else there: not exec (a shell in
// a privileged container), not another Pod, not a Secret. get is the
// WebSocket upgrade, create the SPDY one.
func PortForwardRole(namespace, name string, pods []string) *rbacv1.Role {
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "envgen"}},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"pods/portforward"},
			ResourceNames: pods, Verbs: []string{"get", "create"},
		}},
	}
}

// PortForwardRoleBinding grants PortForwardRole to a ServiceAccount.
func PortForwardRoleBinding(namespace, name, saNamespace, serviceAccount string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "envgen"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: saNamespace, Name: serviceAccount}},
	}
}
