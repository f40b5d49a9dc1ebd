package manifests

import (
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/model"
)

// ComponentJob labels the CronJobs of envgen.cue's jobs.
const ComponentJob = "job"

// JobName is the name of a scheduled job's CronJob.
func JobName(service, job string) string { return service + "-" + job }

// cronJobs are the service's scheduled jobs: each the service's Pod (its
// image, env, files, mounts, writable paths, restricted defaults) with
// the job's command, run to completion on a schedule.
func cronJobs(s *model.Service) []Object {
	var out []Object
	for _, name := range sorted.Keys(s.Jobs) {
		job := s.Jobs[name]
		order, vars := buildEnv(s.EnvOrder, s.Env, job.Env)
		jobResources := s.Resources
		if job.Resources != nil {
			jobResources = job.Resources
		}
		container := corev1.Container{
			Name:      "job",
			Image:     s.ImageRef(),
			Command:   job.Command,
			Args:      job.Args,
			Env:       envVars(order, vars),
			Resources: resources(jobResources),
		}
		spec := podSpec(s, container)
		addContainers(&spec, s, true)
		spec.RestartPolicy = corev1.RestartPolicyNever
		// The service's grace period, which the compiler held the
		// containers' preStop sleeps to (a job runs them too: inJobs).
		spec.TerminationGracePeriodSeconds = s.TerminationGracePeriodSeconds
		schedule(&spec, s.Scheduling)
		objectName := JobName(s.Name, name)
		jobSpec := batchv1.JobSpec{
			BackoffLimit: job.BackoffLimit,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: withExtraLabels(labels(s.Name, objectName, ComponentJob), s.Labels), Annotations: podAnnotations(s.Annotations, s.Files)},
				Spec:       spec,
			},
		}
		if job.TimeoutSeconds > 0 {
			jobSpec.ActiveDeadlineSeconds = ptr.To(job.TimeoutSeconds)
		}
		cron := &batchv1.CronJob{
			TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
			ObjectMeta: objectMeta(s.Name, objectName, ComponentJob),
			Spec: batchv1.CronJobSpec{
				Schedule:                   job.Schedule,
				ConcurrencyPolicy:          batchv1.ConcurrencyPolicy(job.ConcurrencyPolicy),
				SuccessfulJobsHistoryLimit: job.SuccessfulJobsHistoryLimit,
				FailedJobsHistoryLimit:     job.FailedJobsHistoryLimit,
				JobTemplate:                batchv1.JobTemplateSpec{Spec: jobSpec},
			},
		}
		if job.TimeZone != "" {
			cron.Spec.TimeZone = ptr.To(job.TimeZone)
		}
		if job.Suspend {
			cron.Spec.Suspend = ptr.To(true)
		}
		out = append(out, cron)
		if policy := jobNetworkPolicy(s, objectName); policy != nil {
			out = append(out, policy)
		}
	}
	return out
}

// jobNetworkPolicy holds a job's Pods to the environment's network rules,
// as the server's network policy holds its own: the same egress (a job
// reaches the same database), and where ingress rules close the server's
// Pods, nothing in at all (a job serves no port). nil when envgen.cue
// restricts neither direction.
func jobNetworkPolicy(s *model.Service, objectName string) *networkingv1.NetworkPolicy {
	spec := networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: selector(s.Name, objectName)}}
	if len(s.Ingress) > 0 {
		spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeIngress)
	}
	if len(s.Egress) > 0 {
		spec.PolicyTypes = append(spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		spec.Egress = egressRules(s)
	}
	if len(spec.PolicyTypes) == 0 {
		return nil
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(s.Name, objectName, ComponentJob),
		Spec:       spec,
	}
}
