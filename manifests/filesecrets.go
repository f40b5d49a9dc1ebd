package manifests

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

// Config files with secrets (envgen.cue's fileSecrets): the files
// ConfigMap holds their reviewed content with its placeholders; the init
// container RendererName fills them from the Secrets, projected into a
// volume only it mounts, and writes them into a memory-backed emptyDir,
// which the containers that read a file mount read-only at its path.

const (
	// RendererName is the init container that fills the placeholders; the
	// compiler keeps the service's own containers from taking the name.
	RendererName = "envgen-render"
	// renderedVolume holds the rendered files, in memory.
	renderedVolume = "rendered-files"
	// fileSecretsVolume holds the secret values, for the renderer only.
	fileSecretsVolume = "file-secrets"
	// rendererUser runs the renderer when the Pod names no user (the
	// image's USER, numeric as runAsNonRoot wants it).
	rendererUser = 65532
)

// fileMount mounts the config file p: from the files ConfigMap, or, if it
// has secrets, as the renderer wrote it.
func fileMount(s *model.Service, p string) corev1.VolumeMount {
	volume := filesVolume
	if s.HasSecrets(p) {
		volume = renderedVolume
	}
	return corev1.VolumeMount{Name: volume, MountPath: p, SubPath: s.FileKey(p), ReadOnly: true}
}

// addFileRenderer gives a Pod spec that mounts the files the renderer,
// first of its init containers (a proxy may read a rendered file), and
// its volumes. It does nothing for a service without file secrets.
func addFileRenderer(spec *corev1.PodSpec, s *model.Service) {
	files := s.RenderedFiles()
	if len(files) == 0 {
		return
	}
	args := []string{"--templates", "/envgen/templates", "--secrets", "/envgen/secrets", "--out", "/envgen/rendered"}
	bySecret := map[string][]corev1.KeyToPath{}
	size := int64(0)
	for _, p := range files {
		key := s.FileKey(p)
		names := sorted.Keys(s.FileSecrets[p])
		args = append(args, key+"="+strings.Join(names, ","))
		for _, name := range names {
			ref := s.FileSecrets[p][name]
			bySecret[ref.Secret] = append(bySecret[ref.Secret], corev1.KeyToPath{Key: ref.Key, Path: key + "/" + name})
		}
		// A value is at most a Secret's 1 MiB.
		size += int64(len(s.Files[p])) + int64(len(names))<<20
	}
	var sources []corev1.VolumeProjection
	for _, secret := range sorted.Keys(bySecret) {
		sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Items: bySecret[secret],
		}})
	}
	sizeLimit := resource.MustParse(fmt.Sprintf("%dMi", (size+1<<20-1)>>20))
	spec.Volumes = append(spec.Volumes,
		corev1.Volume{Name: renderedVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &sizeLimit}}},
		corev1.Volume{Name: fileSecretsVolume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: sources}}},
	)
	security := containerSecurityContext()
	if s.SecurityContext.RunAsUser == 0 {
		security.RunAsUser = ptr.To[int64](rendererUser)
	}
	renderer := corev1.Container{
		Name:  RendererName,
		Image: s.FileRenderer.ImageRef(),
		Args:  args,
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
		},
		SecurityContext: security,
		VolumeMounts: []corev1.VolumeMount{
			{Name: filesVolume, MountPath: "/envgen/templates", ReadOnly: true},
			{Name: fileSecretsVolume, MountPath: "/envgen/secrets", ReadOnly: true},
			{Name: renderedVolume, MountPath: "/envgen/rendered"},
		},
	}
	spec.InitContainers = append([]corev1.Container{renderer}, spec.InitContainers...)
}
