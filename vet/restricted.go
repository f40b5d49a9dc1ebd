package vet

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/model"
)

// restrictedRule runs the Pod Security Standard checks of the admission
// plugin itself (k8s.io/pod-security-admission) on every Pod envgen
// writes. envgen's own fields cannot leave the restricted profile; the
// escape hatch can (a patch that makes a container privileged, a Job of
// objects that runs as root), and this is what holds it to the profile.
var restrictedRule = Rule{
	ID: "EG014", Severity: Error, Scope: "all",
	Summary: "every Pod meets the Pod Security Standard \"restricted\" profile, patches and objects included",
	Fix:     "undo what the patch or object changes of the Pod's security (privileged, capabilities, runAsNonRoot, host namespaces, volumes)",
	check: func(c *context, env string, s *model.Service) {
		objs, err := manifests.Build(env, s)
		if err != nil {
			return // the compiler refused it already
		}
		for _, obj := range objs {
			meta, spec := podOf(obj)
			if spec == nil {
				continue
			}
			result := policy.AggregateCheckResults(restrictedEvaluator.EvaluatePod(restrictedLevel, meta, spec))
			if result.Allowed {
				continue
			}
			kind := obj.GetObjectKind().GroupVersionKind().Kind
			key := kind + "/" + obj.GetName()
			field := "name" // envgen's own object: a bug in envgen
			if _, ok := s.Objects[key]; ok {
				field = fmt.Sprintf("objects.%q", key)
			} else if _, ok := s.Patches[key]; ok {
				field = fmt.Sprintf("patches.%q", key)
			}
			c.report(env, field, "%s violates the restricted profile: %s", key, result.ForbiddenDetail())
		}
	},
}

var (
	restrictedEvaluator, _ = policy.NewEvaluator(policy.DefaultChecks(), nil)
	restrictedLevel        = psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
)

// podOf returns the Pod metadata and spec of an object that runs Pods.
func podOf(obj manifests.Object) (*metav1.ObjectMeta, *corev1.PodSpec) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return &o.ObjectMeta, &o.Spec
	case *appsv1.Deployment:
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
	case *batchv1.Job:
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.ObjectMeta, &o.Spec.JobTemplate.Spec.Template.Spec
	}
	return nil, nil
}
