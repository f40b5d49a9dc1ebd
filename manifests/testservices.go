package manifests

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

// testService returns the Deployment (and Service, if it has ports) of a
// dependency of the tests.
func testService(s *model.Service, name string) []Object {
	ts := s.CI.Services[name]
	objName := TestServiceName(s.Name, name)
	mounts, writable := writableVolumes(ts.Writable)
	container := testServiceContainer(name, ts, tmpVolume, mounts)
	deploy := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(s.Name, objName, ComponentTestService),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: selector(s.Name, objName)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels(s.Name, objName, ComponentTestService)},
				Spec: corev1.PodSpec{
					Containers:                   []corev1.Container{container},
					Volumes:                      append([]corev1.Volume{{Name: tmpVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}, writable...),
					SecurityContext:              podSecurityContext(ts.SecurityContext),
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
				},
			},
		},
	}
	schedule(&deploy.Spec.Template.Spec, s.Scheduling)
	objs := []Object{deploy}
	if len(ts.Ports) > 0 {
		objs = append(objs, service(s.Name, objName, ComponentTestService, ts.Ports))
	}
	return objs
}

// testServiceContainer is a test service's container, as a Deployment or
// as a sidecar of the build Pod runs it: /tmp from the volume named tmp,
// its writable paths from mounts.
func testServiceContainer(name string, ts model.TestService, tmp string, mounts []corev1.VolumeMount) corev1.Container {
	return corev1.Container{
		Name:            name,
		Image:           model.ImageRef(ts.Image, ts.Tag, ts.Digest),
		Command:         ts.Command,
		Args:            ts.Args,
		Ports:           containerPorts(ts.Ports, nil),
		Env:             envVars(ts.EnvNames(), ts.Env),
		Resources:       resources(ts.Resources),
		ReadinessProbe:  probe(ts.Readiness),
		SecurityContext: securityContextOf(ts.Container),
		VolumeMounts:    append([]corev1.VolumeMount{{Name: tmp, MountPath: "/tmp"}}, mounts...),
	}
}

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
		c := testServiceContainer(name, ts, tmp, mounts)
		c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		c.StartupProbe = startupProbe(ts.Readiness)
		// Its user is the container's: the Pod's is the build's.
		if ts.SecurityContext.RunAsUser != 0 {
			c.SecurityContext.RunAsUser = ptr.To(ts.SecurityContext.RunAsUser)
		}
		if ts.SecurityContext.RunAsGroup != 0 {
			c.SecurityContext.RunAsGroup = ptr.To(ts.SecurityContext.RunAsGroup)
		}
		containers = append(containers, c)
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
