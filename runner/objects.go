package runner

// Which of the ci environment's objects are the build Pods, the test
// services, and the rest.

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"envgen.dev/envgen/manifests"
)

// isTestService says whether an object is a test service's Deployment.
func isTestService(u *unstructured.Unstructured) bool {
	return u.GetLabels()[manifests.LabelComponent] == manifests.ComponentTestService
}

// buildPod is a build Pod of the run: the build's, or one stage's.
type buildPod struct {
	pod   *unstructured.Unstructured
	stage string   // "" for an unstaged build
	needs []string // the stages it waits for
}

// split finds the build Pods (one, or one per stage) and the test
// services among the objects.
func split(objs []map[string]any) (builds []buildPod, services []string, others []*unstructured.Unstructured, err error) {
	for _, m := range objs {
		u := &unstructured.Unstructured{Object: m}
		switch component := u.GetLabels()[manifests.LabelComponent]; {
		case u.GetKind() == "Pod" && component == manifests.ComponentCIBuild:
			b := buildPod{pod: u, stage: u.GetLabels()[manifests.LabelStage]}
			if needs := u.GetAnnotations()[manifests.NeedsAnnotation]; needs != "" {
				b.needs = strings.Split(needs, ",")
			}
			builds = append(builds, b)
		case u.GetKind() == "Deployment" && isTestService(u):
			services = append(services, u.GetName())
			others = append(others, u)
		default:
			others = append(others, u)
		}
	}
	if len(builds) == 0 {
		return nil, nil, nil, fmt.Errorf("the ci environment has no build Pod: set ci.command in envgen.cue")
	}
	return builds, services, others, nil
}

func buildContainer(build *unstructured.Unstructured) string {
	containers, _, _ := unstructured.NestedSlice(build.Object, "spec", "containers")
	if len(containers) > 0 {
		if c, ok := containers[0].(map[string]any); ok {
			name, _ := c["name"].(string)
			return name
		}
	}
	return "build"
}
