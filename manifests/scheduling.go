package manifests

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/internal/kubetypes"
	"envgen.dev/envgen/model"
)

// spreadKeys are the node labels spread's short names stand for.
var spreadKeys = map[string]string{
	"zone": "topology.kubernetes.io/zone",
	"host": "kubernetes.io/hostname",
}

// schedule puts envgen.cue's scheduling on a Pod spec: the node selector,
// tolerations and priority every Pod of the environment gets.
func schedule(spec *corev1.PodSpec, s model.Scheduling) {
	spec.NodeSelector = s.NodeSelector
	spec.PriorityClassName = s.PriorityClassName
	spec.Affinity = Affinity(s.Affinity)
	for _, t := range s.Tolerations {
		spec.Tolerations = append(spec.Tolerations, corev1.Toleration{
			Key: t.Key, Operator: corev1.TolerationOperator(t.Operator), Value: t.Value,
			Effect: corev1.TaintEffect(t.Effect), TolerationSeconds: t.TolerationSeconds,
		})
	}
}

// spread is the topology spread of a workload's Pods (selected by
// matchLabels): one soft constraint per spread name, in envgen.cue's order.
func spread(names []string, matchLabels map[string]string) []corev1.TopologySpreadConstraint {
	var out []corev1.TopologySpreadConstraint
	for _, name := range names {
		out = append(out, corev1.TopologySpreadConstraint{
			MaxSkew:           1,
			TopologyKey:       spreadKeys[name],
			WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector:     &metav1.LabelSelector{MatchLabels: matchLabels},
		})
	}
	return out
}

// Affinity decodes scheduling.affinity, which the compiler has checked
// against the API type (nil without one).
func Affinity(data map[string]any) *corev1.Affinity {
	if len(data) == 0 {
		return nil
	}
	a := &corev1.Affinity{}
	if err := kubetypes.DecodeInto(data, a); err != nil {
		panic("manifests: scheduling.affinity was not checked: " + err.Error())
	}
	return a
}
