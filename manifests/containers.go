package manifests

import (
	"path"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

// The service Pod's other containers: sidecars, init containers, proxies.

// addContainers adds the service's other containers to a Pod spec built by
// podSpec: the sidecars beside the main container, then, as init
// containers, the proxies (native sidecars, started first and stopped
// last) and the init containers, each group in name order. In a job's Pod
// (forJob) only the containers that run in jobs (inJobs), and a sidecar
// there as a native sidecar: beside the main container it would keep the
// Pod from ending.
func addContainers(spec *corev1.PodSpec, s *model.Service, forJob bool) {
	var proxies, inits []corev1.Container
	for _, name := range sorted.Keys(s.Containers) {
		c := s.Containers[name]
		if forJob && !c.RunsInJobs() {
			continue
		}
		container, volumes := sidecar(s, name, c)
		switch c.KindOrDefault() {
		case model.KindSidecar:
			if forJob {
				container.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
				proxies = append(proxies, container)
				break
			}
			spec.Containers = append(spec.Containers, container)
		case model.KindProxy:
			container.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
			proxies = append(proxies, container)
		case model.KindInit:
			inits = append(inits, container)
		}
		spec.Volumes = append(spec.Volumes, volumes...)
	}
	spec.InitContainers = append(append(spec.InitContainers, proxies...), inits...)
}

// sidecar is one of the service's other containers with the volumes only
// it mounts: its own /tmp, writable directories and mounts, each named
// after it; the config files it names come from the Pod's files volume.
func sidecar(s *model.Service, name string, c model.Sidecar) (corev1.Container, []corev1.Volume) {
	tmp := "tmp-" + name
	volumes := []corev1.Volume{{Name: tmp, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	mounts := []corev1.VolumeMount{{Name: tmp, MountPath: "/tmp"}}
	for _, p := range c.Files {
		mounts = append(mounts, fileMount(s, p))
	}
	if t := s.ServiceAccount.Token; t != nil && c.Token {
		mounts = append(mounts, corev1.VolumeMount{Name: tokenVolume, MountPath: path.Dir(t.Path), ReadOnly: true})
	}
	writableMounts, writable := writableVolumesNamed(name+"-w-", c.Writable)
	existingMounts, existing := mountVolumesNamed(name+"-m-", c.Mounts)
	mounts = append(append(mounts, writableMounts...), existingMounts...)
	volumes = append(append(volumes, writable...), existing...)

	container := corev1.Container{
		Name:            name,
		Image:           s.SidecarImage(c),
		Command:         c.Command,
		Args:            c.Args,
		Ports:           containerPorts(c.Ports, s.Protocol),
		Env:             envVars(c.EnvNames(), c.Env),
		Resources:       resources(c.Resources),
		Lifecycle:       preStop(c.PreStop),
		ReadinessProbe:  probe(c.Probes.Readiness),
		LivenessProbe:   probe(c.Probes.Liveness),
		StartupProbe:    probe(c.Probes.Startup),
		SecurityContext: securityContextOf(c.Container),
		VolumeMounts:    mounts,
	}
	if c.SecurityContext.RunAsUser != 0 {
		container.SecurityContext.RunAsUser = ptr.To(c.SecurityContext.RunAsUser)
	}
	if c.SecurityContext.RunAsGroup != 0 {
		container.SecurityContext.RunAsGroup = ptr.To(c.SecurityContext.RunAsGroup)
	}
	return container, volumes
}
