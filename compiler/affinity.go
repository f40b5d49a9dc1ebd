package compiler

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	fieldpath "k8s.io/apimachinery/pkg/util/validation/field"

	"envgen.dev/envgen/internal/kubetypes"
)

// scheduling.affinity is the Kubernetes API's own type, written in CUE. Its
// checks are kube-apiserver's validation of it, so that a refusal names
// envgen.cue's line rather than a rollout's event. They are held to the
// API server itself by difftest's TestAffinityVerdictsAgreeWithTheAPIServer,
// which sends generated affinities, valid and a step off, to kube-apiserver
// as a Deployment and as the Pod its ReplicaSet would create.

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
		if err := checkNodeAffinity(field+".nodeAffinity", n, fail); err != nil {
			return err
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

// checkNodeAffinity wants at least one required term, weights from 1 to
// 100, and each term's requirements as kube-apiserver does.
func checkNodeAffinity(field string, n *corev1.NodeAffinity, fail func(field, msg string) error) error {
	if r := n.RequiredDuringSchedulingIgnoredDuringExecution; r != nil && len(r.NodeSelectorTerms) == 0 {
		return fail(field+".requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms needs at least one term")
	}
	for i, p := range n.PreferredDuringSchedulingIgnoredDuringExecution {
		if p.Weight < 1 || p.Weight > 100 {
			return fail(field+".preferredDuringSchedulingIgnoredDuringExecution", fmt.Sprintf("term %d: weight %d is not between 1 and 100", i, p.Weight))
		}
	}
	var terms []corev1.NodeSelectorTerm
	if r := n.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
		terms = append(terms, r.NodeSelectorTerms...)
	}
	for _, p := range n.PreferredDuringSchedulingIgnoredDuringExecution {
		terms = append(terms, p.Preference)
	}
	for _, t := range terms {
		for _, r := range t.MatchExpressions {
			if msg := nodeRequirementProblem(r); msg != "" {
				return fail(field, msg)
			}
		}
		for _, r := range t.MatchFields {
			if msg := nodeFieldProblem(r); msg != "" {
				return fail(field, msg)
			}
		}
	}
	return nil
}

// nodeRequirementProblem says what kube-apiserver would refuse (or warn
// of) in a node selector requirement, as its validation does; and a Gt or
// Lt that is no number, which it lets through and the scheduler never
// matches.
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
			return fmt.Sprintf("key %s: operator %s takes a number, not %q (the scheduler would never match it)", r.Key, r.Operator, r.Values[0])
		}
	default:
		return fmt.Sprintf("key %s: operator %q is not In, NotIn, Exists, DoesNotExist, Gt or Lt", r.Key, r.Operator)
	}
	for _, v := range r.Values {
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return fmt.Sprintf("key %s: %q is not a label value: %s", r.Key, v, errs[0])
		}
	}
	return ""
}

// nodeFieldProblem says what kube-apiserver would refuse in a node field
// requirement: the node's name is the one field, matched by In or NotIn
// against one name.
func nodeFieldProblem(r corev1.NodeSelectorRequirement) string {
	if r.Key != "metadata.name" {
		return fmt.Sprintf("matchFields key %q: a node is matched by one field, metadata.name (match its labels with matchExpressions)", r.Key)
	}
	if r.Operator != corev1.NodeSelectorOpIn && r.Operator != corev1.NodeSelectorOpNotIn {
		return fmt.Sprintf("matchFields metadata.name: operator %q is not In or NotIn", r.Operator)
	}
	if len(r.Values) != 1 {
		return fmt.Sprintf("matchFields metadata.name: operator %s takes one node name, not %d", r.Operator, len(r.Values))
	}
	if errs := validation.IsDNS1123Subdomain(r.Values[0]); len(errs) > 0 {
		return fmt.Sprintf("matchFields metadata.name: %q is not a node name: %s", r.Values[0], errs[0])
	}
	return ""
}

// checkPodAffinityTerms wants each term valid, and a preferred one a weight
// from 1 to 100.
func checkPodAffinityTerms(field string, required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm, fail func(field, msg string) error) error {
	for i, t := range required {
		if err := podAffinityTermProblem(t, fmt.Sprintf("term %d", i)); err != "" {
			return fail(field+".requiredDuringSchedulingIgnoredDuringExecution", err)
		}
	}
	for i, p := range preferred {
		if p.Weight < 1 || p.Weight > 100 {
			return fail(field+".preferredDuringSchedulingIgnoredDuringExecution", fmt.Sprintf("term %d: weight %d is not between 1 and 100", i, p.Weight))
		}
		if err := podAffinityTermProblem(p.PodAffinityTerm, fmt.Sprintf("term %d's podAffinityTerm", i)); err != "" {
			return fail(field+".preferredDuringSchedulingIgnoredDuringExecution", err)
		}
	}
	return nil
}

// podAffinityTermProblem says what kube-apiserver would refuse in a term:
// no topologyKey or one that is no label key, label selectors its own
// validation (apimachinery's, which the API server runs) refuses,
// namespaces that are no namespace names, and matchLabelKeys and
// mismatchLabelKeys it refuses. It also refuses a matchLabelKeys key the
// label selector names: the Deployment would pass, but kube-apiserver adds
// the key to each Pod's selector when the Pod is created and then refuses
// the Pod, so no Pod would ever start.
func podAffinityTermProblem(t corev1.PodAffinityTerm, what string) string {
	if t.TopologyKey == "" {
		return what + " has no topologyKey (the node label that says what \"together\" means: kubernetes.io/hostname, topology.kubernetes.io/zone)"
	}
	if errs := validation.IsQualifiedName(t.TopologyKey); len(errs) > 0 {
		return fmt.Sprintf("%s: topologyKey %q is not a label key: %s", what, t.TopologyKey, errs[0])
	}
	for _, selector := range []struct {
		name string
		s    *metav1.LabelSelector
	}{{"labelSelector", t.LabelSelector}, {"namespaceSelector", t.NamespaceSelector}} {
		if errs := metav1validation.ValidateLabelSelector(selector.s, metav1validation.LabelSelectorValidationOptions{}, fieldpath.NewPath(selector.name)); len(errs) > 0 {
			return fmt.Sprintf("%s: %s", what, errs[0].Error())
		}
	}
	for _, ns := range t.Namespaces {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return fmt.Sprintf("%s: namespaces: %q is not a namespace name: %s", what, ns, errs[0])
		}
	}
	for _, keys := range []struct {
		name string
		list []string
	}{{"matchLabelKeys", t.MatchLabelKeys}, {"mismatchLabelKeys", t.MismatchLabelKeys}} {
		if len(keys.list) > 0 && t.LabelSelector == nil {
			return fmt.Sprintf("%s: %s needs a labelSelector", what, keys.name)
		}
		for _, key := range keys.list {
			if errs := validation.IsQualifiedName(key); len(errs) > 0 {
				return fmt.Sprintf("%s: %s: %q is not a label key: %s", what, keys.name, key, errs[0])
			}
		}
	}
	for _, key := range t.MatchLabelKeys {
		if slices.Contains(t.MismatchLabelKeys, key) {
			return fmt.Sprintf("%s: %s is in both matchLabelKeys and mismatchLabelKeys", what, key)
		}
		if selectorNames(t.LabelSelector, key) {
			return fmt.Sprintf("%s: %s is in both matchLabelKeys and labelSelector (kube-apiserver adds matchLabelKeys to each Pod's selector, and would refuse every Pod)", what, key)
		}
	}
	return ""
}

// selectorNames says whether a label selector names a key.
func selectorNames(s *metav1.LabelSelector, key string) bool {
	if _, ok := s.MatchLabels[key]; ok {
		return true
	}
	return slices.ContainsFunc(s.MatchExpressions, func(r metav1.LabelSelectorRequirement) bool { return r.Key == key })
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
