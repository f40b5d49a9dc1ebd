package difftest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/pipeline"
)

// TestAffinityVerdictsAgreeWithTheAPIServer holds envgen's checks of
// scheduling.affinity (its own copy of kube-apiserver's rules, so that a
// refusal names envgen.cue's line) to kube-apiserver itself, both ways:
// over generated affinities, most a step off a valid one (an operator
// with or without values, a key that is no label key, a weight out of
// range, a term without a topology key…), envgen accepts exactly those
// the API server accepts. An affinity envgen accepts goes to the API
// server as envgen renders it; one it refuses is put into the same
// Deployment by hand.
func TestAffinityVerdictsAgreeWithTheAPIServer(t *testing.T) {
	if cluster == nil {
		t.Skip("needs the test control plane")
	}
	api, err := newDryRunner(context.Background(), cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	baseline, err := deploymentOf("")
	if err != nil {
		t.Fatal(err)
	}
	cases := envInt(t, "ENVGEN_AFFINITY_CASES", 300)
	seed := envInt(t, "ENVGEN_DIFF_SEED", defaultSeed)
	r := rand.New(rand.NewPCG(seed, 7))
	var accepted, refused int
	for i := range cases {
		affinity := randomAffinity(r)
		raw, _ := json.Marshal(affinity)
		rendered, envgenErr := deploymentOf(string(raw))
		var input *compiler.InputError
		if envgenErr != nil && !errors.As(envgenErr, &input) {
			t.Fatalf("case %d: %v", i, envgenErr)
		}
		object := rendered
		if envgenErr != nil {
			object = deepCopy(baseline)
			object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["affinity"] = affinity
		}
		apiErr := api.check(context.Background(), "production", []map[string]any{object, podOf(object)})
		if envgenErr != nil && apiErr == nil && stricterOnPurpose.MatchString(envgenErr.Error()) {
			refused++ // envgen's own rule, said where it is made
			continue
		}
		switch {
		case envgenErr == nil && apiErr != nil:
			t.Errorf("case %d: envgen accepts an affinity kube-apiserver refuses:\n%s\n%v", i, raw, apiErr)
		case envgenErr != nil && apiErr == nil:
			t.Errorf("case %d: envgen refuses an affinity kube-apiserver accepts:\n%s\n%v", i, raw, envgenErr)
		case envgenErr == nil:
			accepted++
		default:
			refused++
		}
	}
	t.Logf("%d generated affinities: %d accepted and %d refused by both envgen and kube-apiserver", cases, accepted, refused)
	if accepted < int(cases)/5 || refused < int(cases)/5 {
		t.Errorf("the generator has drifted: %d accepted, %d refused of %d", accepted, refused, cases)
	}
}

// stricterOnPurpose are the refusals envgen makes of affinities
// kube-apiserver accepts: a Gt or Lt that is no number (the scheduler
// never matches it).
var stricterOnPurpose = regexp.MustCompile(`operator (Gt|Lt) takes a number, not`)

// podOf is the Pod a Deployment's ReplicaSet would create: kube-apiserver
// validates some of a Pod's affinity only then (it adds matchLabelKeys to
// the Pod's selector when the Pod is created).
func podOf(deployment map[string]any) map[string]any {
	template := deepCopy(deployment)["spec"].(map[string]any)["template"].(map[string]any)
	metadata := template["metadata"].(map[string]any)
	metadata["name"] = "svc-pod"
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}
}

// deploymentOf is production's Deployment of a service with the given
// affinity (none when ""), as envgen renders it.
func deploymentOf(affinity string) (map[string]any, error) {
	src := `name: "svc"
image: "registry.example.org/svc"
digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
ports: http: 8080
`
	if affinity != "" {
		src += "scheduling: affinity: " + affinity + "\n"
	}
	result, err := pipeline.LoadSource("envgen.cue", []byte(src), compiler.Options{})
	if err != nil {
		return nil, err
	}
	built, err := result.Render("production")
	if err != nil {
		return nil, err
	}
	for _, obj := range built.Objects {
		if obj["kind"] == "Deployment" {
			return obj, nil
		}
	}
	return nil, fmt.Errorf("production has no Deployment")
}

// randomAffinity is an affinity in the API's own words, most of the time
// one step away from a valid one.
func randomAffinity(r *rand.Rand) map[string]any {
	pick := func(options ...any) any { return options[r.IntN(len(options))] }
	chance := func(p float64) bool { return r.Float64() < p }
	// Values that are right most of the time, and each wrong in one of the
	// ways people (and generators) get them wrong.
	labelKey := func() any {
		if chance(0.85) {
			return pick("node.kubernetes.io/pool", "app", "example.org/team")
		}
		return pick("", "bad key", "a/b/c", "-leading", strings.Repeat("k", 64), "example.org/")
	}
	values := func(op any) any {
		switch {
		case chance(0.15):
			return pick(nil, []any{}, []any{"a"}, []any{"1"}, []any{"a", "b"}, []any{"x1"}, []any{"bad value!"})
		case op == "Exists" || op == "DoesNotExist":
			return nil
		case op == "Gt" || op == "Lt":
			return []any{pick("1", "42")}
		}
		return []any{"web", "ci"}
	}
	requirement := func(ops ...any) map[string]any {
		op := pick(ops...)
		if chance(0.1) {
			op = pick("Equals", "in", "")
		}
		req := map[string]any{"key": labelKey(), "operator": op}
		if v := values(op); v != nil {
			req["values"] = v
		}
		return req
	}
	weight := func() any {
		if chance(0.9) {
			return 1 + r.IntN(100)
		}
		return pick(0, -1, 101)
	}
	nodeTerm := func() map[string]any {
		term := map[string]any{}
		if chance(0.9) {
			term["matchExpressions"] = []any{requirement("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")}
		}
		if chance(0.2) {
			field := map[string]any{"key": pick("metadata.name", "metadata.name", "metadata.namespace"), "operator": pick("In", "NotIn", "Exists")}
			field["values"] = pick([]any{"node-1"}, []any{"node-1", "node-2"}, nil)
			if field["values"] == nil {
				delete(field, "values")
			}
			term["matchFields"] = []any{field}
		}
		return term
	}
	podTerm := func() map[string]any {
		term := map[string]any{"topologyKey": pick("kubernetes.io/hostname", "topology.kubernetes.io/zone")}
		if chance(0.08) {
			term["topologyKey"] = pick("", "not a/valid/key")
		}
		if chance(0.6) {
			term["labelSelector"] = map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": pick("svc", "cache", "bad value!")}}
		} else {
			term["labelSelector"] = map[string]any{"matchExpressions": []any{requirement("In", "NotIn", "Exists", "DoesNotExist")}}
		}
		if chance(0.15) {
			term["namespaces"] = []any{pick("shared", "monitoring", "Bad_Namespace")}
		}
		if chance(0.1) {
			term["namespaceSelector"] = map[string]any{"matchLabels": map[string]any{"team": pick("web", "bad value!")}}
		}
		if chance(0.1) {
			term["matchLabelKeys"] = []any{pick("pod-template-hash", "app.kubernetes.io/name", "bad key")}
		}
		if chance(0.05) {
			term["mismatchLabelKeys"] = []any{pick("pod-template-hash", "team")}
		}
		return term
	}
	pods := func() map[string]any {
		out := map[string]any{}
		if chance(0.6) {
			out["requiredDuringSchedulingIgnoredDuringExecution"] = []any{podTerm()}
		}
		if chance(0.6) || len(out) == 0 {
			out["preferredDuringSchedulingIgnoredDuringExecution"] = []any{map[string]any{"weight": weight(), "podAffinityTerm": podTerm()}}
		}
		return out
	}
	a := map[string]any{}
	if chance(0.6) {
		node := map[string]any{}
		if chance(0.6) {
			terms := []any{nodeTerm()}
			if chance(0.05) {
				terms = []any{}
			}
			node["requiredDuringSchedulingIgnoredDuringExecution"] = map[string]any{"nodeSelectorTerms": terms}
		}
		if chance(0.6) || len(node) == 0 {
			node["preferredDuringSchedulingIgnoredDuringExecution"] = []any{map[string]any{"weight": weight(), "preference": nodeTerm()}}
		}
		a["nodeAffinity"] = node
	}
	if chance(0.4) || len(a) == 0 {
		a["podAffinity"] = pods()
	}
	if chance(0.4) {
		a["podAntiAffinity"] = pods()
	}
	return a
}
