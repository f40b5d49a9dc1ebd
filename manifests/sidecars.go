package manifests

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

// localhostSidecars are the test services with localhost: true, as native
// sidecars of the build Pod: init containers with restartPolicy Always,
// which the kubelet starts in order before the build container, waits for
// until their startup probe passes, and stops after the build container
// exited. The readiness probe envgen.cue gives is their startup probe too:
// the build starts only once they are ready. Each has its own /tmp and
// writable volumes.
func localhostSidecars(ci *model.CI) ([]corev1.Container, []corev1.Volume) {
	var containers []corev1.Container
	var volumes []corev1.Volume
	for _, name := range sorted.Keys(ci.Services) {
		ts := ci.Services[name]
		if !ts.Localhost {
			continue
		}
		tmp := "tmp-" + name
		mounts, writable := writableVolumesNamed(name+"-w-", ts.Writable)
		sc := containerSecurityContext()
		if ts.SecurityContext.RunAsUser != 0 {
			sc.RunAsUser = ptr.To(ts.SecurityContext.RunAsUser)
		}
		if ts.SecurityContext.RunAsGroup != 0 {
			sc.RunAsGroup = ptr.To(ts.SecurityContext.RunAsGroup)
		}
		containers = append(containers, corev1.Container{
			Name:            name,
			Image:           model.ImageRef(ts.Image, ts.Tag, ts.Digest),
			Command:         ts.Command,
			Args:            ts.Args,
			Ports:           containerPorts(ts.Ports),
			Env:             envVars(sorted.Keys(ts.Env), ts.Env),
			Resources:       resources(ts.Resources),
			RestartPolicy:   ptr.To(corev1.ContainerRestartPolicyAlways),
			StartupProbe:    startupProbe(ts.Readiness),
			ReadinessProbe:  probe(ts.Readiness),
			SecurityContext: sc,
			VolumeMounts:    append([]corev1.VolumeMount{{Name: tmp, MountPath: "/tmp"}}, mounts...),
		})
		volumes = append(volumes, corev1.Volume{Name: tmp, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		volumes = append(volumes, writable...)
	}
	return containers, volumes
}

// startupProbe is the readiness check, asked every second (the build waits
// on it: a coarser period is build time lost) for up to startupLimit.
func startupProbe(readiness *model.Probe) *corev1.Probe {
	p := probe(readiness)
	if p == nil {
		return nil
	}
	p.InitialDelaySeconds, p.PeriodSeconds, p.FailureThreshold = 0, 1, startupLimit
	return p
}

// startupLimit is how many seconds a localhost test service may take to be
// ready before the kubelet restarts it.
const startupLimit = 600
