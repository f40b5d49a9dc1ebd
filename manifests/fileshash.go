package manifests

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/model"
)

// The files hash (FilesHashAnnotation) is of the config files as
// deployed: filesHash over each file's path and content, where the
// content is what the files ConfigMap holds after envgen.cue's patches (a
// key a patch adds counts under its own name). A file changed through a
// patch rolls the Pods like one changed in files: the hash was computed
// before the patches, so an environment that patched its config kept the
// old Pods, and the new config was never loaded.

// restampFilesHashes sets, after the patches, the files hash of every Pod
// template that carries one to the hash of the files ConfigMap it mounts.
// Unpatched, it is the hash envgen generated.
func restampFilesHashes(s *model.Service, objs []Object) {
	hashes := map[string]string{} // by ConfigMap name
	instances := append([]*model.Service{s}, s.Releases...)
	for _, obj := range objs {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok {
			continue
		}
		for _, instance := range instances {
			if cm.Name == FilesConfigMapName(instance.Instance()) {
				hashes[cm.Name] = filesHash(deployedFiles(instance, cm))
			}
		}
	}
	for _, obj := range objs {
		meta, spec := podTemplateOf(obj)
		if meta == nil || meta.Annotations[FilesHashAnnotation] == "" {
			continue
		}
		for _, v := range spec.Volumes {
			if v.ConfigMap == nil {
				continue
			}
			if hash, ok := hashes[v.ConfigMap.Name]; ok {
				meta.Annotations[FilesHashAnnotation] = hash
			}
		}
	}
}

// deployedFiles are the files of instance as cm holds them: each path's
// content under its key, and a key no file has under the key itself.
func deployedFiles(instance *model.Service, cm *corev1.ConfigMap) map[string]string {
	pathOf := map[string]string{}
	for p := range instance.Files {
		pathOf[instance.FileKey(p)] = p
	}
	files := map[string]string{}
	for key, content := range cm.Data {
		if p, ok := pathOf[key]; ok {
			files[p] = content
		} else {
			files[key] = content
		}
	}
	for key, content := range cm.BinaryData {
		files[key] = string(content)
	}
	return files
}

// podTemplateOf is the metadata and spec of the Pods an object makes (nil
// for other objects).
func podTemplateOf(obj Object) (*metav1.ObjectMeta, *corev1.PodSpec) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.ObjectMeta, &o.Spec.JobTemplate.Spec.Template.Spec
	case *corev1.Pod:
		return &o.ObjectMeta, &o.Spec
	}
	return nil, nil
}
