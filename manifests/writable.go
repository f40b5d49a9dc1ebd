package manifests

import (
	"crypto/sha256"
	"encoding/hex"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

// writableVolumes are the emptyDirs of envgen.cue's writable paths and
// their mounts, each named by pathVolumeName.
func writableVolumes(paths map[string]model.Writable) ([]corev1.VolumeMount, []corev1.Volume) {
	return writableVolumesNamed("writable-", paths)
}

// pathVolumeName names the volume mounted at a path after a hash of the
// path, so that adding or removing another path never renames it (and
// patches stay small).
func pathVolumeName(prefix, path string) string {
	sum := sha256.Sum256([]byte(path))
	return prefix + hex.EncodeToString(sum[:5])
}

// writableVolumesNamed are writableVolumes whose names start with prefix:
// containers of one Pod that each have their own.
func writableVolumesNamed(prefix string, paths map[string]model.Writable) ([]corev1.VolumeMount, []corev1.Volume) {
	var mounts []corev1.VolumeMount
	var volumes []corev1.Volume
	for _, p := range sorted.Keys(paths) {
		w := paths[p]
		name := pathVolumeName(prefix, p)
		dir := &corev1.EmptyDirVolumeSource{}
		if w.Memory {
			dir.Medium = corev1.StorageMediumMemory
		}
		if w.SizeLimit != "" {
			q := resource.MustParse(w.SizeLimit) // checked by the schema
			dir.SizeLimit = &q
		}
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: p})
		volumes = append(volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: dir}})
	}
	return mounts, volumes
}

// mountVolumes are the Secret and ConfigMap volumes of envgen.cue's
// mounts, read-only, named after a hash of their path as writable ones.
func mountVolumes(paths map[string]model.Mount) ([]corev1.VolumeMount, []corev1.Volume) {
	return mountVolumesNamed("mount-", paths)
}

// mountVolumesNamed are mountVolumes whose names start with prefix.
func mountVolumesNamed(prefix string, paths map[string]model.Mount) ([]corev1.VolumeMount, []corev1.Volume) {
	var mounts []corev1.VolumeMount
	var volumes []corev1.Volume
	for _, p := range sorted.Keys(paths) {
		m := paths[p]
		name := pathVolumeName(prefix, p)
		var items []corev1.KeyToPath
		for _, key := range sorted.Keys(m.Items) {
			items = append(items, corev1.KeyToPath{Key: key, Path: m.Items[key]})
		}
		var source corev1.VolumeSource
		if m.Secret != "" {
			source.Secret = &corev1.SecretVolumeSource{SecretName: m.Secret, Items: items, DefaultMode: m.Mode}
		} else {
			source.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: m.ConfigMap}, Items: items, DefaultMode: m.Mode}
		}
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: p, ReadOnly: true})
		volumes = append(volumes, corev1.Volume{Name: name, VolumeSource: source})
	}
	return mounts, volumes
}

// preStop is the lifecycle hook of the main container.
func preStop(p *model.PreStop) *corev1.Lifecycle {
	if p == nil {
		return nil
	}
	h := &corev1.LifecycleHandler{}
	if p.Exec != nil {
		h.Exec = &corev1.ExecAction{Command: p.Exec.Command}
	} else {
		h.Sleep = &corev1.SleepAction{Seconds: p.Sleep}
	}
	return &corev1.Lifecycle{PreStop: h}
}
