package explain

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/manifests"
)

// Why envgen sets fields that envgen.cue does not mention.
const (
	whyRestricted = "set by envgen: the Pod Security Standard \"restricted\" profile (manifests/pod.go)"
	whyToken      = "set by envgen: service account tokens are mounted only with serviceAccount.automountToken (manifests/pod.go)"
	whyTmp        = "set by envgen: the root filesystem is read-only, /tmp is an emptyDir (manifests/pod.go)"
	whyBuild      = "set by envgen: a CI build runs once (manifests/workloads.go)"
	whyLabels     = "set by envgen from name: the app.kubernetes.io labels (manifests/objects.go)"
	whyFilesHash  = "set by envgen: a hash of files, so that a change rolls the Pods (manifests/fileshash.go)"
	whyShape      = "set by envgen: the shape of the object (manifests/)"
	whyRouting    = "set by envgen from traffic: the Pods a Service sends traffic to carry envgen.dev/routed-via, which the main Service selects when a release shares it (releases.<name>.traffic; manifests/objects.go)"
)

// target is what a path of an object can map to.
type target struct {
	cue []string // envgen.cue fields, most specific first
	why string   // when none of them is set
}

var (
	envItem  = regexp.MustCompile(`^env\[name=([^\]]+)\]`)
	portItem = regexp.MustCompile(`^ports\[name=([^\]]+)\]`)
	annoKey  = regexp.MustCompile(`^\["([^"]+)"\]$|^([^.]+)$`)
	svcPort  = regexp.MustCompile(`^spec\.ports\[name=([^\]]+)\]`)
	ruleItem = regexp.MustCompile(`^spec\.(ingress|egress)\[(\d+)\]`)
)

// mapTarget maps the canonical path of a rendered object to envgen.cue.
func mapTarget(project *compiler.Project, env string, obj map[string]any, p string) target {
	kind, _ := obj["kind"].(string)
	meta, _ := obj["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	labels, _ := meta["labels"].(map[string]any)
	component, _ := labels[manifests.LabelComponent].(string)
	service := project.Name

	if strings.Contains(p, manifests.LabelRoutedVia) || (kind == "Service" && strings.HasPrefix(p, "spec.selector") && component == manifests.ComponentServer) {
		return target{why: whyRouting}
	}
	for _, template := range []string{"spec.template.metadata.labels.", "spec.jobTemplate.spec.template.metadata.labels."} {
		if key, ok := strings.CutPrefix(p, template); ok && !manifests.IsEnvgenLabel(unquoteKey(key)) {
			return target{cue: []string{"labels." + quoteKey(key)}}
		}
	}
	if strings.Contains(p, "annotations") && strings.HasSuffix(p, `["`+manifests.FilesHashAnnotation+`"]`) {
		return target{cue: []string{"files"}, why: whyFilesHash}
	}
	if strings.HasPrefix(p, "metadata") || p == "apiVersion" || p == "kind" {
		if rest, ok := strings.CutPrefix(p, "metadata.annotations."); ok && kind == "Pod" {
			return target{cue: []string{"ci.annotations." + quoteKey(rest)}}
		}
		return target{cue: []string{"name"}, why: whyLabels}
	}
	switch kind {
	case "HorizontalPodAutoscaler":
		switch {
		case p == "spec.minReplicas":
			return target{cue: []string{"autoscale.min"}}
		case p == "spec.maxReplicas":
			return target{cue: []string{"autoscale.max"}}
		case strings.HasPrefix(p, "spec.metrics"):
			return target{cue: []string{"autoscale.cpuPercent"}}
		}
	case "PodDisruptionBudget":
		switch p {
		case "spec.minAvailable":
			return target{cue: []string{"disruptionBudget.minAvailable"}}
		case "spec.maxUnavailable":
			return target{cue: []string{"disruptionBudget.maxUnavailable"}}
		}
	case "NetworkPolicy":
		// Rules are in name order; egress's first is envgen's DNS rule.
		if m := ruleItem.FindStringSubmatch(p); m != nil {
			if s, err := project.Environment(env); err == nil {
				i, _ := strconv.Atoi(m[2])
				names := sorted.Keys(s.Ingress)
				if m[1] == "egress" {
					names = append([]string{""}, sorted.Keys(s.Egress)...)
				}
				if i < len(names) && names[i] != "" {
					return target{cue: []string{m[1] + "." + quoteKey(names[i])}}
				}
			}
		}
		if strings.HasPrefix(p, "spec.ingress") {
			return target{cue: []string{"ingress"}}
		}
		if strings.HasPrefix(p, "spec.policyTypes") {
			// A direction is restricted where envgen.cue has rules for it
			// (a job's Pods: no way in where the server's has ingress rules).
			return target{cue: []string{"ingress", "egress"}, why: "set by envgen: a direction with rules is restricted (manifests/workloads.go)"}
		}
		if strings.HasPrefix(p, "spec.egress") {
			return target{cue: []string{"egress"}, why: "set by envgen: DNS is always allowed (manifests/workloads.go)"}
		}
	case "ConfigMap":
		if key, ok := strings.CutPrefix(p, "data."); ok {
			if s, err := project.Environment(env); err == nil {
				for filePath := range s.Files {
					if s.FileKey(filePath) == strings.Trim(key, `[]"`) {
						return target{cue: []string{fmt.Sprintf("files.%q", filePath)}}
					}
				}
			}
		}
	case "Service":
		prefix := ""
		if component == manifests.ComponentTestService {
			prefix = "ci.services." + compiler.Label(strings.TrimPrefix(name, service+"-")) + "."
		}
		if m := svcPort.FindStringSubmatch(p); m != nil {
			if prefix != "" {
				return target{cue: []string{prefix + "ports." + compiler.Label(m[1])}}
			}
			shape := "service.ports." + compiler.Label(m[1])
			switch {
			case strings.HasSuffix(p, ".nodePort"):
				return target{cue: []string{shape + ".nodePort"}}
			case strings.HasSuffix(p, ".protocol"):
				return target{cue: []string{shape + ".protocol"}, why: "set by envgen: TCP unless service.ports says otherwise"}
			case strings.HasSuffix(p, "].port"):
				return target{cue: []string{shape + ".port", declaredPort(project, env, m[1])}}
			}
			return target{cue: []string{declaredPort(project, env, m[1])}}
		}
		if p == "spec.type" || p == "spec.clusterIP" {
			return target{cue: []string{"service.type"}}
		}
	case "Deployment":
		if component == manifests.ComponentTestService {
			return podTarget(p, "spec.template.spec", "ci.services."+compiler.Label(strings.TrimPrefix(name, service+"-"))+".", true)
		}
		if p == "spec.replicas" {
			return target{cue: []string{"replicas"}}
		}
		switch p {
		case "spec.strategy.rollingUpdate.maxSurge":
			return target{cue: []string{"rollout.maxSurge"}}
		case "spec.strategy.rollingUpdate.maxUnavailable":
			return target{cue: []string{"rollout.maxUnavailable"}}
		case "spec.strategy.type":
			return target{cue: []string{"rollout"}, why: whyShape}
		case "spec.minReadySeconds":
			return target{cue: []string{"rollout.minReadySeconds"}}
		case "spec.revisionHistoryLimit":
			return target{cue: []string{"rollout.revisionHistoryLimit"}}
		}
		if rest, ok := strings.CutPrefix(p, "spec.template.metadata.annotations."); ok {
			if rest == `["`+manifests.FilesHashAnnotation+`"]` {
				return target{cue: []string{"files"}, why: whyFilesHash}
			}
			return target{cue: []string{"annotations." + quoteKey(rest)}}
		}
		if t, ok := sidecarTarget(project, env, p, "spec.template.spec"); ok {
			return t
		}
		return podTarget(p, "spec.template.spec", "", false)
	case "CronJob":
		job := "jobs." + compiler.Label(strings.TrimPrefix(name, service+"-")) + "."
		if rest, ok := strings.CutPrefix(p, "spec."); ok {
			switch rest {
			case "schedule", "timeZone", "concurrencyPolicy", "suspend", "successfulJobsHistoryLimit", "failedJobsHistoryLimit":
				return target{cue: []string{job + rest}}
			case "jobTemplate.spec.activeDeadlineSeconds":
				return target{cue: []string{job + "timeout"}}
			case "jobTemplate.spec.backoffLimit":
				return target{cue: []string{job + "backoffLimit"}}
			case "jobTemplate.spec.template.spec.restartPolicy":
				return target{why: "set by envgen: a failed run is retried as a new Pod (backoffLimit)"}
			}
		}
		if t, ok := sidecarTarget(project, env, p, "spec.jobTemplate.spec.template.spec"); ok {
			return t
		}
		return podTarget(p, "spec.jobTemplate.spec.template.spec", job, false)
	case "Pod":
		if p == "spec.activeDeadlineSeconds" {
			return target{cue: []string{"ci.timeout"}}
		}
		if p == "spec.restartPolicy" {
			return target{why: whyBuild}
		}
		if rest, ok := strings.CutPrefix(p, "spec."); ok {
			if t, ok := rendererTarget(rest); ok {
				return t
			}
		}
		t := podTarget(p, "spec", "ci.", false)
		if stage, _ := labels[manifests.LabelStage].(string); stage != "" {
			t.cue = stageFirst(stage, t.cue)
		}
		return t
	}
	return target{why: whyShape}
}

// podTarget maps the fields of a Pod spec at podPath. prefix is the
// envgen.cue struct the container comes from ("" for the service, "ci."
// for the build, "ci.services.x." for a test service); a build falls back
// to the service's fields, which it inherits.
func podTarget(p, podPath, prefix string, testService bool) target {
	rest, ok := strings.CutPrefix(p, podPath+".")
	if !ok {
		return target{why: whyShape}
	}
	with := func(fields ...string) []string {
		var out []string
		for _, f := range fields {
			out = append(out, prefix+f)
			if inherits(prefix) && !strings.HasPrefix(f, "timeout") {
				out = append(out, f)
			}
		}
		return out
	}
	securityFields := map[string]bool{"runAsUser": true, "runAsGroup": true, "fsGroup": true}
	switch {
	case strings.HasPrefix(rest, "securityContext."):
		field := strings.TrimPrefix(rest, "securityContext.")
		if securityFields[field] {
			if inherits(prefix) {
				return target{cue: []string{"securityContext." + field}}
			}
			return target{cue: []string{prefix + "securityContext." + field}}
		}
		return target{why: whyRestricted}
	case rest == "automountServiceAccountToken":
		if testService {
			return target{why: whyToken}
		}
		return target{cue: []string{"serviceAccount.automountToken"}, why: whyToken}
	case rest == "serviceAccountName":
		return target{cue: []string{"serviceAccount.name"}}
	case rest == "nodeSelector":
		return target{cue: []string{"scheduling.nodeSelector"}}
	case strings.HasPrefix(rest, "nodeSelector."):
		return target{cue: []string{"scheduling.nodeSelector." + quoteKey(strings.TrimPrefix(rest, "nodeSelector."))}}
	case strings.HasPrefix(rest, "tolerations"):
		return target{cue: []string{"scheduling.tolerations"}}
	case rest == "priorityClassName":
		return target{cue: []string{"scheduling.priorityClassName"}}
	case strings.HasPrefix(rest, "affinity"):
		return target{cue: []string{"scheduling.affinity"}}
	case strings.HasPrefix(rest, "topologySpreadConstraints"):
		return target{cue: []string{"scheduling.spread"}, why: "set by envgen from scheduling.spread: maxSkew 1, ScheduleAnyway, the Pods' own labels (manifests/scheduling.go)"}
	case strings.HasPrefix(rest, "volumes"):
		if strings.HasPrefix(rest, "volumes[name=token]") {
			return target{cue: []string{"serviceAccount.token"}}
		}
		if strings.Contains(rest, "[name=writable-") {
			return target{cue: []string{writable(prefix)}}
		}
		if strings.Contains(rest, "[name=mount-") {
			return target{cue: []string{"mounts"}}
		}
		return target{cue: []string{"files"}, why: whyTmp}
	case rest == "terminationGracePeriodSeconds":
		return target{cue: []string{"terminationGracePeriodSeconds"}}
	}
	c, ok := strings.CutPrefix(rest, "containers[name=")
	if !ok {
		return target{why: whyShape}
	}
	_, field, _ := strings.Cut(c, "].")
	switch {
	case field == "image":
		return target{cue: with("image", "tag", "digest")}
	case field == "command" || strings.HasPrefix(field, "command["):
		return target{cue: with("command")}
	case field == "args" || strings.HasPrefix(field, "args["):
		return target{cue: with("args")}
	case envItem.MatchString(field):
		return target{cue: with("env." + envItem.FindStringSubmatch(field)[1])}
	case portItem.MatchString(field):
		// The build's ports are the service's; a test service's its own.
		owner := prefix
		if !testService {
			owner = strings.TrimPrefix(prefix, "ci.")
		}
		return target{cue: []string{owner + "ports." + compiler.Label(portItem.FindStringSubmatch(field)[1])}}
	case strings.HasPrefix(field, "resources"):
		return target{cue: with(field, "resources")}
	case strings.HasPrefix(field, "readinessProbe"):
		if testService {
			return target{cue: []string{prefix + "readiness"}}
		}
		return target{cue: []string{"probes.readiness"}}
	case strings.HasPrefix(field, "livenessProbe"):
		return target{cue: []string{"probes.liveness"}}
	case strings.HasPrefix(field, "startupProbe"):
		return target{cue: []string{"probes.startup"}}
	case field == "securityContext.readOnlyRootFilesystem":
		return target{cue: with("writableRoot"), why: whyRestricted}
	case strings.HasPrefix(field, "securityContext"):
		return target{why: whyRestricted}
	case strings.HasPrefix(field, "volumeMounts"):
		if strings.Contains(field, "[name=writable-") {
			return target{cue: []string{writable(prefix)}}
		}
		if strings.Contains(field, "[name=token]") {
			return target{cue: []string{"serviceAccount.token.path"}}
		}
		if strings.Contains(field, "[name=mount-") {
			return target{cue: []string{"mounts"}}
		}
		return target{cue: []string{"files"}, why: whyTmp}
	case strings.HasPrefix(field, "lifecycle"):
		return target{cue: []string{"preStop"}}
	}
	return target{why: whyShape}
}

// stageFields are the fields a stage sets over the build's.
var stageFields = regexp.MustCompile(`^ci\.(image|tag|digest|command|args|env\..*)$`)

// stageFirst puts a stage's own fields before the build's they override:
// a stage's Pod takes them from ci.stages.<stage> first.
func stageFirst(stage string, fields []string) []string {
	var out []string
	for _, f := range fields {
		if m := stageFields.FindStringSubmatch(f); m != nil {
			out = append(out, "ci.stages."+compiler.Label(stage)+"."+m[1])
		}
	}
	return append(out, fields...)
}

// inherits says whether a Pod's container falls back to the service's
// fields: the build's (ci.) and a scheduled job's (jobs.x.) do; a test
// service's do not.
func inherits(prefix string) bool {
	return prefix == "ci." || strings.HasPrefix(prefix, "jobs.")
}

// writable is where the writable directories of a Pod come from: the
// service's (the build inherits them) or a test service's own.
func writable(prefix string) string {
	if inherits(prefix) {
		return "writable"
	}
	return prefix + "writable"
}

// quoteKey turns a canonical map key (a or ["a.b/c"]) into a CUE selector.
func quoteKey(key string) string {
	if m := annoKey.FindStringSubmatch(key); m != nil && m[1] != "" {
		return fmt.Sprintf("%q", m[1])
	}
	return fmt.Sprintf("%q", key)
}

// unquoteKey is a map key of a leaf path as the object has it.
func unquoteKey(key string) string {
	if m := annoKey.FindStringSubmatch(key); m != nil && m[1] != "" {
		return m[1]
	}
	return key
}
