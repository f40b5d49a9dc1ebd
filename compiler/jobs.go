package compiler

import (
	"fmt"
	"strings"
	"time"
	// Time zones as the API server knows them, also where the machine
	// has no zoneinfo (a distroless CI image).
	_ "time/tzdata"

	"cuelang.org/go/cue"
	"github.com/robfig/cron/v3"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/model"
)

// maxCronJobName is how long a CronJob's name may be: the controller adds
// an 11-character suffix to name each Job.
const maxCronJobName = 52

// checkJobs checks the scheduled jobs as kube-apiserver would: a schedule
// its cron parser reads, a time zone it knows, a name that leaves room
// for the Jobs' suffix; and parses each timeout.
func checkJobs(s *model.Service, fail func(field, msg string) error) error {
	for _, name := range sorted.Keys(s.Jobs) {
		job := s.Jobs[name]
		prefix := "jobs." + Label(name)
		if objectName := manifests.JobName(s.Name, name); len(objectName) > maxCronJobName {
			return fail(prefix, fmt.Sprintf("the CronJob would be named %q (%d characters; Kubernetes allows %d, to add the Jobs' suffix): shorten name or the job's name", objectName, len(objectName), maxCronJobName))
		}
		if strings.Contains(job.Schedule, "TZ=") {
			return fail(prefix+".schedule", "give the time zone in timeZone, not in the schedule")
		}
		if _, err := cron.ParseStandard(job.Schedule); err != nil {
			return fail(prefix+".schedule", fmt.Sprintf("%q is not a cron schedule (minute hour day-of-month month day-of-week, or @daily…): %v", job.Schedule, err))
		}
		if job.TimeZone == "Local" {
			// time.LoadLocation takes it for the machine's own zone; the
			// API server refuses it: a CronJob names its zone.
			return fail(prefix+".timeZone", `"Local" is the machine's zone, which a CronJob may not depend on: name the zone (IANA, e.g. Europe/Berlin, or UTC)`)
		}
		if job.TimeZone != "" {
			if _, err := time.LoadLocation(job.TimeZone); err != nil {
				return fail(prefix+".timeZone", fmt.Sprintf("%q is not a known time zone (IANA, e.g. Europe/Berlin)", job.TimeZone))
			}
		}
		if job.Timeout != "" {
			d, err := time.ParseDuration(job.Timeout)
			if err != nil || d < time.Second || d > maxTimeout {
				return fail(prefix+".timeout", fmt.Sprintf("%q is not a duration between 1s and %s", job.Timeout, maxTimeout))
			}
			job.TimeoutSeconds = int64(d.Round(time.Second) / time.Second)
			s.Jobs[name] = job
		}
		if err := requestsWithinLimits(prefix+".resources", job.Resources, fail); err != nil {
			return err
		}
	}
	return nil
}

// deploymentOnly are the fields that describe the Deployment and what
// fronts it: with deployment: false they would describe nothing. (egress
// holds the jobs too.)
var deploymentOnly = []string{"autoscale", "disruptionBudget", "rollout", "service", "ingress"}

// checkJobsOnly wants a service without a Deployment to have jobs, and
// none of the Deployment's fields.
func checkJobsOnly(env string, s *model.Service, at func(string) cue.Value, fail func(field, msg string) error) error {
	if s.Deploys() {
		return nil
	}
	for _, field := range deploymentOnly {
		if at(field).Exists() {
			return fail(field, fmt.Sprintf("deployment is false: there is no Deployment for %s to shape (the scheduled jobs do not use it)", field))
		}
	}
	if len(s.Jobs) == 0 && env != manifests.CIEnvironment && env != "" {
		return fail("deployment", "deployment is false and there are no jobs: this environment would run nothing")
	}
	return nil
}
