package compiler

import (
	"fmt"

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
