package manifests

import (
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// The Pod Security Standard "restricted" profile, checked by the admission
// plugin's own code (k8s.io/pod-security-admission) on what envgen.cue's
// patches and objects make of a Pod: envgen's own fields cannot leave the
// profile, the escape hatch could (a privileged container, a Job that
// runs as root), and envgen refuses that as it refuses the root user.

// restrictedEvaluator is built on first use: only envgen.cue's patches
// and objects need it, not every command's start.
var restrictedEvaluator = sync.OnceValue(func() policy.Evaluator {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		panic(fmt.Sprintf("the Pod Security admission's own checks do not build: %v", err))
	}
	return evaluator
})

var restrictedLevel = psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}

// restrictedViolation says how a Pod the object runs breaks the restricted
// profile, or "" when it does not (or runs no Pod).
func restrictedViolation(obj Object) string {
	meta, spec := PodOf(obj)
	if spec == nil {
		return ""
	}
	result := policy.AggregateCheckResults(restrictedEvaluator().EvaluatePod(restrictedLevel, meta, spec))
	if result.Allowed {
		return ""
	}
	return result.ForbiddenDetail()
}

// PodOf returns the Pod metadata and spec of an object that runs Pods
// (nil for the others).
func PodOf(obj Object) (*metav1.ObjectMeta, *corev1.PodSpec) {
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
