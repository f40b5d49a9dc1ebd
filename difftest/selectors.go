package difftest

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"

	"envgen.dev/envgen/overlays"
)

// checkSelectors holds envgen's labels to what the API server does not
// check: that a selector selects the Pods it is for.
//   - Every Service selects the Pods of some Deployment of its environment,
//     and a NetworkPolicy or PodDisruptionBudget those of exactly one
//     Deployment or CronJob.
//   - The main Service of every environment selects the main Deployment's
//     Pods of every other environment that has the Service: Pods made from
//     an older tree (before a canary shared the Service, say) are still
//     running while a new tree is applied, and a selector they do not
//     match leaves them without traffic until the rollout has replaced
//     them all.
func checkSelectors(service string, envs []overlays.Environment) error {
	templates := map[string]map[string]labels.Set{} // env → Deployment or CronJob → Pod labels
	served := map[string]bool{}                     // environments with the main Service
	for _, env := range envs {
		templates[env.Name] = map[string]labels.Set{}
		for _, obj := range env.Objects {
			switch o := obj.(type) {
			case *appsv1.Deployment:
				templates[env.Name][o.Name] = labels.Set(o.Spec.Template.Labels)
			case *batchv1.CronJob: // a job's network policy selects its Pods
				templates[env.Name][o.Name] = labels.Set(o.Spec.JobTemplate.Spec.Template.Labels)
			case *corev1.Service:
				served[env.Name] = served[env.Name] || o.Name == service
			}
		}
	}
	matching := func(env string, sel map[string]string) []string {
		var names []string
		for name, l := range templates[env] {
			if labels.SelectorFromSet(sel).Matches(l) {
				names = append(names, name)
			}
		}
		return names
	}
	for _, env := range envs {
		for _, obj := range env.Objects {
			var sel map[string]string
			var want string // "some" or "one"
			switch o := obj.(type) {
			case *corev1.Service:
				sel, want = o.Spec.Selector, "some"
			case *networkingv1.NetworkPolicy:
				sel, want = o.Spec.PodSelector.MatchLabels, "one"
			case *policyv1.PodDisruptionBudget:
				sel, want = o.Spec.Selector.MatchLabels, "one"
			default:
				continue
			}
			got := matching(env.Name, sel)
			if len(got) == 0 || (want == "one" && len(got) > 1) {
				return fmt.Errorf("%s: %s %s selects the Pods of %d workloads %v, want %s", env.Name, obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), len(got), got, want)
			}
			svc, ok := obj.(*corev1.Service)
			if !ok || svc.Name != service {
				continue
			}
			for _, other := range envs {
				if l, ok := templates[other.Name][service]; ok && served[other.Name] && !labels.SelectorFromSet(sel).Matches(l) {
					return fmt.Errorf("%s: Service %s selects %v, which the Pods of %s's Deployment (%v) do not match: while one tree replaces the other they would get no traffic", env.Name, service, sel, other.Name, l)
				}
			}
		}
	}
	return nil
}
