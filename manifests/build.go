package manifests

import (
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

// The build of the ci environment: one Pod, or one per stage.

// LabelStage on a stage's Pod names the stage; NeedsAnnotation lists the
// stages it needs (comma-separated), which envgen run waits for.
const (
	LabelStage      = "envgen.dev/stage"
	NeedsAnnotation = "envgen.dev/needs"
)

// buildPods returns the build Pod, or one Pod per stage when the build
// has stages.
func buildPods(s *model.Service) []Object {
	if len(s.CI.Stages) == 0 {
		return []Object{buildPod(s, BuildPodName(s.Name), nil)}
	}
	var pods []Object
	for _, name := range sorted.Keys(s.CI.Stages) {
		stage := s.CI.Stages[name]
		pod := buildPod(s, StagePodName(s.Name, name), &stage)
		pod.Labels[LabelStage] = name
		if len(stage.Needs) > 0 {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[NeedsAnnotation] = strings.Join(stage.Needs, ",")
		}
		pods = append(pods, pod)
	}
	return pods
}

// buildPod runs the tests once: restartPolicy Never, and a deadline from
// ci.timeout so that a forgotten build stops on the server side too. A
// stage is the build with its own command, image and variables.
func buildPod(s *model.Service, name string, stage *model.Stage) *corev1.Pod {
	ci := s.CI
	repo, tag, digest := s.Image, s.Tag, s.Digest
	command, args := s.Command, ci.Args
	if len(ci.Command) > 0 {
		command = ci.Command
	}
	layers := []map[string]model.EnvVar{ci.Env}
	for _, img := range []struct{ image, tag, digest string }{{ci.Image, ci.Tag, ci.Digest}, stageImage(stage)} {
		if img.image != "" {
			repo = img.image
		}
		if img.tag != "" || img.digest != "" {
			tag, digest = img.tag, img.digest
		}
	}
	if stage != nil {
		command, args = stage.Command, stage.Args
		layers = append(layers, stage.Env)
	}
	image := model.ImageRef(repo, tag, digest)
	buildResources := s.Resources
	if ci.Resources != nil {
		buildResources = ci.Resources
	}
	order, vars := buildEnv(s.EnvOrder, s.Env, layers...)
	container := corev1.Container{
		Name:      "build",
		Image:     image,
		Command:   command,
		Args:      args,
		Env:       envVars(order, vars),
		Resources: resources(buildResources),
	}
	spec := podSpec(s, container)
	if len(ci.Artifacts) > 0 {
		spec.Containers = append(spec.Containers, artifactsContainer(image, spec.Containers[0].VolumeMounts))
	}
	sidecars, volumes := localhostSidecars(ci)
	spec.InitContainers = append(spec.InitContainers, sidecars...)
	spec.Volumes = append(spec.Volumes, volumes...)
	spec.RestartPolicy = corev1.RestartPolicyNever
	schedule(&spec, s.Scheduling)
	spec.ActiveDeadlineSeconds = ptr.To(ci.TimeoutSeconds)
	meta := objectMeta(s.Name, name, ComponentCIBuild)
	meta.Annotations = podAnnotations(ci.Annotations, s.Files)
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: meta,
		Spec:       spec,
	}
}

func stageImage(stage *model.Stage) (img struct{ image, tag, digest string }) {
	if stage != nil {
		img.image, img.tag, img.digest = stage.Image, stage.Tag, stage.Digest
	}
	return img
}

// buildEnv lays the build's variables (ci.env, then a stage's) over the
// service's: a new name goes last, a known one keeps its place, an Unset
// one (null) is dropped.
func buildEnv(serviceOrder []string, service map[string]model.EnvVar, layers ...map[string]model.EnvVar) ([]string, map[string]model.EnvVar) {
	order := slices.Clone(serviceOrder)
	vars := maps.Clone(service)
	if vars == nil {
		vars = map[string]model.EnvVar{}
	}
	for _, layer := range layers {
		for _, name := range sorted.Keys(layer) {
			if layer[name].Unset {
				delete(vars, name)
				order = slices.DeleteFunc(order, func(n string) bool { return n == name })
				continue
			}
			if _, ok := vars[name]; !ok {
				order = append(order, name)
			}
			vars[name] = layer[name]
		}
	}
	return order, vars
}

// ArtifactsContainer is the build Pod's second container when ci.artifacts
// is set: it keeps the build's writable volumes readable after the build
// container exited, until envgen run has copied the artifacts out of it
// (tar, by exec) and deleted the namespace.
const ArtifactsContainer = "artifacts"

// artifactsWait idles until it is stopped, and stops at once on SIGTERM.
const artifactsWait = "trap 'exit 0' TERM; sleep 2147483647 & wait"

// artifactsContainer runs the build's own image (it needs sh and tar) with
// the build's volumes mounted read-only, and little else.
func artifactsContainer(image string, buildMounts []corev1.VolumeMount) corev1.Container {
	var mounts []corev1.VolumeMount
	for _, m := range buildMounts {
		if m.SubPath != "" || strings.HasPrefix(m.Name, "mount-") {
			continue // config files, Secrets and ConfigMaps: not the build's output
		}
		m.ReadOnly = true
		mounts = append(mounts, m)
	}
	return corev1.Container{
		Name:    ArtifactsContainer,
		Image:   image,
		Command: []string{"sh", "-c", artifactsWait},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
		},
		SecurityContext: containerSecurityContext(),
		VolumeMounts:    mounts,
	}
}
