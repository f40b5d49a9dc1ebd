package manifests

import (
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/kyaml/resid"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

// Object is a typed Kubernetes object with its TypeMeta set.
type Object interface {
	metav1.Object
	runtime.Object
}

// CIEnvironment is the environment that gets the build Pod and the test
// services.
const CIEnvironment = "ci"

// Label keys envgen sets on everything it generates.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelManagedBy = "app.kubernetes.io/managed-by"

	// LabelRelease names the release of a release's objects and Pods
	// (the main release's have none).
	LabelRelease = "envgen.dev/release"
	// LabelRoutedVia on a Pod names the Service that sends it traffic:
	// the main release's for its Pods and those of releases that share
	// it, <name>-<release> for a release with a Service of its own. The
	// main Service selects on it when releases share it.
	LabelRoutedVia = "envgen.dev/routed-via"
)

// Component label values.
const (
	ComponentServer      = "server"
	ComponentCIBuild     = "ci-build"
	ComponentTestService = "test-service"
)

// FilesHashAnnotation on a Pod template holds the hash of the config files,
// so that changing a file rolls the Deployment.
const FilesHashAnnotation = "envgen.dev/files-sha256"

// Build returns the objects of one environment in kustomize's legacy
// order, which is also the order `kustomize build` prints them in: those
// envgen generates, with envgen.cue's patches and objects (a *HatchError
// when one of them is wrong; the compiler checks them with Build).
func Build(env string, s *model.Service) ([]Object, error) {
	objs := generate(env, s)
	if len(s.Patches) == 0 && len(s.Objects) == 0 {
		return objs, nil
	}
	objs, err := ApplyEscapeHatch(env, s, objs)
	if err != nil {
		return nil, err
	}
	restampFilesHashes(s, objs)
	return objs, nil
}

// generate returns the objects envgen generates for one environment.
func generate(env string, s *model.Service) []Object {
	var objs []Object
	if len(s.Files) > 0 {
		objs = append(objs, filesConfigMap(s))
	}
	if s.Deploys() {
		objs = append(objs, server(s)...)
		for _, release := range s.Releases {
			objs = append(objs, releaseObjects(release)...)
		}
	}
	if env != CIEnvironment {
		objs = append(objs, cronJobs(s)...)
	}
	if env == CIEnvironment && s.CI != nil {
		objs = append(objs, buildPods(s)...)
		for _, name := range sorted.Keys(s.CI.Services) {
			if !s.CI.Services[name].Localhost {
				objs = append(objs, testService(s, name)...)
			}
		}
	}
	Sort(objs)
	return objs
}

// server is the service as a Deployment: with its Service, autoscaler,
// disruption budget and network policy when envgen.cue asks for them.
func server(s *model.Service) []Object {
	var objs []Object
	if s.Fronted() && !s.SharesService() {
		objs = append(objs, serviceFront(s))
	}
	objs = append(objs, deployment(s))
	if s.Autoscale != nil {
		objs = append(objs, autoscaler(s))
	}
	if s.DisruptionBudget != nil {
		objs = append(objs, disruptionBudget(s))
	}
	if len(s.Egress) > 0 || len(s.Ingress) > 0 {
		objs = append(objs, networkPolicy(s))
	}
	return objs
}

// BuildPodName is the name of the ci environment's build Pod.
func BuildPodName(service string) string { return service + "-ci-build" }

// StagePodName is the name of the Pod of one stage of the build.
func StagePodName(service, stage string) string { return service + "-ci-" + stage }

// TestServiceName is the name of a CI test service's Deployment and Service.
func TestServiceName(service, testService string) string { return service + "-" + testService }

// Sort orders objects as kustomize's legacy sort does: by kind (Namespace,
// ConfigMap, Service, Deployment… first), then group/version/kind, then name.
func Sort(objs []Object) {
	sort.SliceStable(objs, func(i, j int) bool {
		gi, gj := GVK(objs[i]), GVK(objs[j])
		if !gi.Equals(gj) {
			return gi.IsLessThan(gj)
		}
		return objs[i].GetName() < objs[j].GetName()
	})
}

// GVK is the kustomize group/version/kind of an object.
func GVK(obj Object) resid.Gvk {
	gvk := obj.GetObjectKind().GroupVersionKind()
	return resid.NewGvk(gvk.Group, gvk.Version, gvk.Kind)
}

func labels(service, instance, component string) map[string]string {
	return map[string]string{
		LabelName:      service,
		LabelInstance:  instance,
		LabelComponent: component,
		LabelManagedBy: "envgen",
	}
}

func selector(service, instance string) map[string]string {
	return map[string]string{LabelName: service, LabelInstance: instance}
}

// releaseObjects are a release's Deployment and what belongs to it: its
// files, its Service when its traffic is its own, autoscaler, disruption
// budget, network policy.
func releaseObjects(release *model.Service) []Object {
	var objs []Object
	if len(release.Files) > 0 {
		objs = append(objs, filesConfigMap(release))
	}
	return append(objs, server(release)...)
}

// serverMeta is the metadata of an object of one release of the service.
func serverMeta(s *model.Service, name string) metav1.ObjectMeta {
	meta := objectMeta(s.Name, name, ComponentServer)
	if s.Release != "" {
		meta.Labels[LabelRelease] = s.Release
	}
	return meta
}

// podLabels are the labels of a release's Pods: its objects' labels, and
// the Service that sends them traffic, if any. The main release's Pods
// carry it even when no release shares their Service: the day one does,
// the Service's selector switches to it, and Pods without it would get no
// traffic until the Deployment had replaced them all.
func podLabels(s *model.Service) map[string]string {
	l := withExtraLabels(serverMeta(s, s.Instance()).Labels, s.Labels)
	switch {
	case !s.Fronted():
		// No Service in front of them (a queue worker).
	case s.SharesService():
		l[LabelRoutedVia] = s.Name
	default:
		l[LabelRoutedVia] = s.Instance()
	}
	return l
}

func objectMeta(service, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: labels(service, name, component)}
}

// withExtraLabels adds envgen.cue's labels to envgen's own, which win (the
// compiler refuses their keys in envgen.cue).
func withExtraLabels(own, extra map[string]string) map[string]string {
	for k, v := range extra {
		if _, taken := own[k]; !taken {
			own[k] = v
		}
	}
	return own
}

// IsEnvgenLabel says whether a label key is one envgen sets itself.
func IsEnvgenLabel(key string) bool {
	switch key {
	case LabelName, LabelInstance, LabelComponent, LabelManagedBy:
		return true
	}
	return strings.HasPrefix(key, "envgen.dev/")
}
