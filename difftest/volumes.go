package difftest

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"envgen.dev/envgen/overlays"
)

// checkEmptyDirsFilled holds envgen's Pods to what neither kustomize nor
// the API server checks: an emptyDir a container mounts read-only is
// written by another container of the Pod (envgen-render writes the files
// with secrets; the build writes what the artifacts container reads).
// Otherwise the container reads an empty directory on every node.
func checkEmptyDirsFilled(envs []overlays.Environment) error {
	for _, env := range envs {
		for _, obj := range env.Objects {
			var spec *corev1.PodSpec
			switch o := obj.(type) {
			case *appsv1.Deployment:
				spec = &o.Spec.Template.Spec
			case *batchv1.CronJob:
				spec = &o.Spec.JobTemplate.Spec.Template.Spec
			case *corev1.Pod:
				spec = &o.Spec
			default:
				continue
			}
			if err := emptyDirsFilled(spec); err != nil {
				return fmt.Errorf("environment %s, %T %s: %w", env.Name, obj, obj.GetName(), err)
			}
		}
	}
	return nil
}

func emptyDirsFilled(spec *corev1.PodSpec) error {
	emptyDir := map[string]bool{}
	for _, v := range spec.Volumes {
		emptyDir[v.Name] = v.EmptyDir != nil
	}
	containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	writers := map[string]int{} // volume → containers that mount it writable
	for _, c := range containers {
		for _, m := range c.VolumeMounts {
			if !m.ReadOnly {
				writers[m.Name]++
			}
		}
	}
	for _, c := range containers {
		for _, m := range c.VolumeMounts {
			if m.ReadOnly && emptyDir[m.Name] && writers[m.Name] == 0 {
				return fmt.Errorf("container %s mounts the emptyDir %s read-only at %s, and no container of the Pod writes it", c.Name, m.Name, m.MountPath)
			}
		}
	}
	return nil
}
