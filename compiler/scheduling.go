package compiler

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	fieldpath "k8s.io/apimachinery/pkg/util/validation/field"

	"envgen.dev/envgen/internal/kubetypes"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/model"
)

// checkScheduling refuses the tolerations and spreads kube-apiserver would.
func checkScheduling(s model.Scheduling, fail func(field, msg string) error) error {
	for i, t := range s.Tolerations {
		at := fmt.Sprintf("scheduling.tolerations[%d]", i)
		switch {
		case t.Operator == "Exists" && t.Value != "":
			return fail(at+".value", "a toleration with operator Exists matches any value: leave value out")
		case t.Key == "" && t.Operator != "Exists":
			return fail(at, "a toleration without a key must have operator: \"Exists\" (it then tolerates every taint)")
		case t.TolerationSeconds != nil && t.Effect != "NoExecute":
			return fail(at+".tolerationSeconds", "tolerationSeconds only applies to effect: \"NoExecute\"")
		}
	}
	if err := checkAffinity(s.Affinity, fail); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, name := range s.Spread {
		if seen[name] {
			return fail(fmt.Sprintf("scheduling.spread[%d]", i), fmt.Sprintf("%q is listed twice", name))
		}
		seen[name] = true
	}
	return nil
}

// wrongType is encoding/json's word for a value of the wrong type: what it
// got, the field (without list indexes) and the type it wants.
var wrongType = regexp.MustCompile(`cannot unmarshal (\w+) into Go struct field \w+\.(\S+) of type (\S+)`)

// checkAffinity decodes scheduling.affinity strictly into the API type,
// and refuses at its position what kube-apiserver's validation would.
func checkAffinity(data map[string]any, fail func(field, msg string) error) error {
	if len(data) == 0 {
		return nil
	}
	const field = "scheduling.affinity"
	var a corev1.Affinity
	if p := kubetypes.UnknownFieldIn(data, &a); p != nil {
		return fail(field+"."+strings.Join(p, "."), fmt.Sprintf("a Kubernetes affinity has no field %s here", p[len(p)-1]))
	}
	if err := kubetypes.DecodeInto(data, &a); err != nil {
		if m := wrongType.FindStringSubmatch(err.Error()); m != nil {
			return fail(field, fmt.Sprintf("%s is %s in the Kubernetes API, not %s", m[2], apiTypeWords(m[3]), apiTypeWords(m[1])))
		}
		return fail(field, err.Error())
	}
	if n := a.NodeAffinity; n != nil {
		if r := n.RequiredDuringSchedulingIgnoredDuringExecution; r != nil && len(r.NodeSelectorTerms) == 0 {
			return fail(field+".nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms needs at least one term")
		}
		for i, p := range n.PreferredDuringSchedulingIgnoredDuringExecution {
			if p.Weight < 1 || p.Weight > 100 {
				return fail(field+".nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution", fmt.Sprintf("term %d: weight %d is not between 1 and 100", i, p.Weight))
			}
		}
		terms := []corev1.NodeSelectorTerm{}
		if r := n.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
			terms = append(terms, r.NodeSelectorTerms...)
		}
		for _, p := range n.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, p.Preference)
		}
		for _, t := range terms {
			for _, r := range append(t.MatchExpressions, t.MatchFields...) {
				if msg := nodeRequirementProblem(r); msg != "" {
					return fail(field+".nodeAffinity", msg)
				}
			}
		}
	}
	if pa := a.PodAffinity; pa != nil {
		if err := checkPodAffinityTerms(field+".podAffinity", pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, fail); err != nil {
			return err
		}
	}
	if pa := a.PodAntiAffinity; pa != nil {
		if err := checkPodAffinityTerms(field+".podAntiAffinity", pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, fail); err != nil {
			return err
		}
	}
	return nil
}

// checkPodAffinityTerms wants each term to name its topology key, and a
// preferred one a weight from 1 to 100.
func checkPodAffinityTerms(field string, required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm, fail func(field, msg string) error) error {
	for i, t := range required {
		if err := checkPodAffinityTerm(t, fmt.Sprintf("term %d", i)); err != "" {
			return fail(field+".requiredDuringSchedulingIgnoredDuringExecution", err)
		}
	}
	for i, p := range preferred {
		if p.Weight < 1 || p.Weight > 100 {
			return fail(field+".preferredDuringSchedulingIgnoredDuringExecution", fmt.Sprintf("term %d: weight %d is not between 1 and 100", i, p.Weight))
		}
		if err := checkPodAffinityTerm(p.PodAffinityTerm, fmt.Sprintf("term %d's podAffinityTerm", i)); err != "" {
			return fail(field+".preferredDuringSchedulingIgnoredDuringExecution", err)
		}
	}
	return nil
}

// checkPodAffinityTerm says what kube-apiserver would refuse in a term:
// no topologyKey or one that is no label key, and a label selector its
// own validation (apimachinery's, which the API server runs) refuses.
func checkPodAffinityTerm(t corev1.PodAffinityTerm, what string) string {
	if t.TopologyKey == "" {
		return what + " has no topologyKey (the node label that says what \"together\" means: kubernetes.io/hostname, topology.kubernetes.io/zone)"
	}
	if errs := validation.IsQualifiedName(t.TopologyKey); len(errs) > 0 {
		return fmt.Sprintf("%s: topologyKey %q is not a label key: %s", what, t.TopologyKey, errs[0])
	}
	if errs := metav1validation.ValidateLabelSelector(t.LabelSelector, metav1validation.LabelSelectorValidationOptions{}, fieldpath.NewPath("labelSelector")); len(errs) > 0 {
		return fmt.Sprintf("%s: %s", what, errs[0].Error())
	}
	return ""
}

// nodeRequirementProblem says what kube-apiserver would refuse in a node
// selector requirement, as its validation does.
func nodeRequirementProblem(r corev1.NodeSelectorRequirement) string {
	if errs := validation.IsQualifiedName(r.Key); len(errs) > 0 {
		return fmt.Sprintf("key %q is not a label key: %s", r.Key, errs[0])
	}
	switch r.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(r.Values) == 0 {
			return fmt.Sprintf("key %s: operator %s needs values", r.Key, r.Operator)
		}
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		if len(r.Values) > 0 {
			return fmt.Sprintf("key %s: operator %s takes no values", r.Key, r.Operator)
		}
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(r.Values) != 1 {
			return fmt.Sprintf("key %s: operator %s takes one value, a number", r.Key, r.Operator)
		}
		if _, err := strconv.ParseInt(r.Values[0], 10, 64); err != nil {
			return fmt.Sprintf("key %s: operator %s takes a number, not %q", r.Key, r.Operator, r.Values[0])
		}
	default:
		return fmt.Sprintf("key %s: operator %q is not In, NotIn, Exists, DoesNotExist, Gt or Lt", r.Key, r.Operator)
	}
	return ""
}

// checkLabels refuses envgen's own label keys among envgen.cue's labels:
// the selectors of the Deployment, Service, network and disruption
// policies find the Pods by them.
func checkLabels(labels map[string]string, fail func(field, msg string) error) error {
	for key := range labels {
		if manifests.IsEnvgenLabel(key) {
			return fail(fmt.Sprintf("labels.%q", key), fmt.Sprintf("%s is envgen's own label: the selectors find the Pods by it; use a key of your own (app, release, example.org/team)", key))
		}
	}
	return nil
}

// apiTypeWords names a JSON or Go type as a user of YAML would.
func apiTypeWords(t string) string {
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), t == "number":
		return "a number (" + t + ")"
	case t == "bool":
		return "true or false"
	case t == "object" || strings.HasPrefix(t, "map"):
		return "a struct"
	case t == "array" || strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return "a " + t
}
