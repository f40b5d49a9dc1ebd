package manifests

import (
	"crypto/sha256"
	"encoding/hex"
	"path"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

const (
	tmpVolume   = "tmp"
	filesVolume = "files"
	// tokenVolume holds serviceAccount.token's projected token.
	tokenVolume = "token"
)

// podSecurityContext meets the "restricted" Pod Security Standard.
func podSecurityContext(sc model.SecurityContext) *corev1.PodSecurityContext {
	psc := &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	if sc.RunAsUser != 0 {
		psc.RunAsUser = ptr.To(sc.RunAsUser)
	}
	if sc.RunAsGroup != 0 {
		psc.RunAsGroup = ptr.To(sc.RunAsGroup)
	}
	if sc.FSGroup != 0 {
		psc.FSGroup = ptr.To(sc.FSGroup)
	}
	return psc
}

// containerSecurityContext meets the "restricted" Pod Security Standard and
// makes the root filesystem read-only; /tmp is an emptyDir.
func containerSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		ReadOnlyRootFilesystem:   ptr.To(true),
	}
}

// securityContextOf is containerSecurityContext for a container that may
// opt out of the read-only root filesystem (writableRoot, with a reason
// vet prints; the restricted profile does not ask for it).
func securityContextOf(c model.Container) *corev1.SecurityContext {
	sc := containerSecurityContext()
	if c.WritableRoot != "" {
		sc.ReadOnlyRootFilesystem = ptr.To(false)
	}
	return sc
}

// podSpec is the Pod spec shared by the service's Deployment and the build
// Pod: security defaults, service account, and the volumes for /tmp and the
// config files.
func podSpec(s *model.Service, container corev1.Container) corev1.PodSpec {
	container.SecurityContext = securityContextOf(s.Container)
	container.VolumeMounts = append(container.VolumeMounts, corev1.VolumeMount{Name: tmpVolume, MountPath: "/tmp"})
	volumes := []corev1.Volume{{Name: tmpVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	if len(s.Files) > 0 {
		for _, p := range sorted.Keys(s.Files) {
			if s.FileOfContainer(p) {
				continue // another container's (an envoy.yaml): it mounts it
			}
			container.VolumeMounts = append(container.VolumeMounts, fileMount(s, p))
		}
		volumes = append(volumes, corev1.Volume{Name: filesVolume, VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: FilesConfigMapName(s.Instance())}},
		}})
	}
	mounts, writable := writableVolumes(s.Writable)
	container.VolumeMounts = append(container.VolumeMounts, mounts...)
	volumes = append(volumes, writable...)
	mounts, existing := mountVolumes(s.Mounts)
	container.VolumeMounts = append(container.VolumeMounts, mounts...)
	volumes = append(volumes, existing...)
	if t := s.ServiceAccount.Token; t != nil {
		container.VolumeMounts = append(container.VolumeMounts, corev1.VolumeMount{Name: tokenVolume, MountPath: path.Dir(t.Path), ReadOnly: true})
		volumes = append(volumes, corev1.Volume{Name: tokenVolume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
				Path: path.Base(t.Path), Audience: t.Audience, ExpirationSeconds: t.ExpirationSeconds,
			}}},
		}}})
	}
	spec := corev1.PodSpec{
		Containers:                   []corev1.Container{container},
		Volumes:                      volumes,
		SecurityContext:              podSecurityContext(s.SecurityContext),
		ServiceAccountName:           s.ServiceAccount.Name,
		AutomountServiceAccountToken: ptr.To(s.ServiceAccount.AutomountToken),
		EnableServiceLinks:           ptr.To(false),
	}
	addFileRenderer(&spec, s)
	return spec
}

// FilesConfigMapName names the ConfigMap that holds the config files.
func FilesConfigMapName(service string) string { return service + "-files" }

// filesHash changes whenever a config file's path or content changes.
func filesHash(files map[string]string) string {
	h := sha256.New()
	for _, p := range sorted.Keys(files) {
		h.Write([]byte(p))
		h.Write([]byte{0})
		h.Write([]byte(files[p]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// envVars lists variables in the given order.
func envVars(order []string, vars map[string]model.EnvVar) []corev1.EnvVar {
	out := make([]corev1.EnvVar, 0, len(order))
	for _, name := range order {
		out = append(out, envVar(name, vars[name]))
	}
	return out
}

func envVar(name string, v model.EnvVar) corev1.EnvVar {
	switch {
	case v.Secret != "":
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: v.Secret}, Key: v.Key,
		}}}
	case v.ConfigMap != "":
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: v.ConfigMap}, Key: v.Key,
		}}}
	}
	return corev1.EnvVar{Name: name, Value: v.Value}
}

// containerPorts are the named ports, TCP unless protocol (when given)
// says otherwise.
func containerPorts(ports map[string]int32, protocol func(string) string) []corev1.ContainerPort {
	var out []corev1.ContainerPort
	for _, name := range sorted.Keys(ports) {
		p := corev1.ContainerPort{Name: name, ContainerPort: ports[name], Protocol: corev1.ProtocolTCP}
		if protocol != nil {
			p.Protocol = corev1.Protocol(protocol(name))
		}
		out = append(out, p)
	}
	return out
}

func resources(r *model.Resources) corev1.ResourceRequirements {
	if r == nil {
		return corev1.ResourceRequirements{}
	}
	return corev1.ResourceRequirements{Requests: resourceList(r.Requests), Limits: resourceList(r.Limits)}
}

// resourceList parses quantities the schema has already checked.
func resourceList(m map[string]string) corev1.ResourceList {
	if len(m) == 0 {
		return nil
	}
	out := corev1.ResourceList{}
	for name, q := range m {
		out[corev1.ResourceName(name)] = resource.MustParse(q)
	}
	return out
}

func probe(p *model.Probe) *corev1.Probe {
	if p == nil {
		return nil
	}
	out := &corev1.Probe{
		InitialDelaySeconds: p.InitialDelaySeconds,
		PeriodSeconds:       p.PeriodSeconds,
		TimeoutSeconds:      p.TimeoutSeconds,
		FailureThreshold:    p.FailureThreshold,
	}
	switch {
	case p.HTTP != nil:
		out.HTTPGet = &corev1.HTTPGetAction{Path: p.HTTP.Path, Port: portRef(p.HTTP.Port), Scheme: corev1.URIScheme(p.HTTP.Scheme)}
	case p.TCP != nil:
		out.TCPSocket = &corev1.TCPSocketAction{Port: portRef(p.TCP.Port)}
	case p.Exec != nil:
		out.Exec = &corev1.ExecAction{Command: p.Exec.Command}
	}
	return out
}

func portRef(p model.PortRef) intstr.IntOrString {
	if p.Name != "" {
		return intstr.FromString(p.Name)
	}
	return intstr.FromInt32(p.Number)
}
