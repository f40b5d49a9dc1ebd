package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

// TestRunFencesItsNamespace: a run as the CI account (exactly envgen
// rbac's rights) puts its quota, LimitRange and NetworkPolicy into the
// build namespace, and the API server then holds the build to them: a Pod
// past the quota is refused, and the account can neither delete nor
// change the quota.
func TestRunFencesItsNamespace(t *testing.T) {
	kubeconfig := e2ekit.LeastPrivilegeKubeconfig(t, cluster, envgen, "jenkins-fence", "envgen")
	dir := service(t, "fenced", `services: db: {image: "registry.example.org/db", tag: "1", ports: db: 5432, readiness: tcp: port: "db"}`)
	// A policy of the pull request's that would let every Pod out (they add
	// up): not applied.
	cue, err := os.ReadFile(filepath.Join(dir, "envgen.cue"))
	if err != nil {
		t.Fatal(err)
	}
	cue = append(cue, `environments: ci: objects: "NetworkPolicy/open": {apiVersion: "networking.k8s.io/v1", spec: {podSelector: {}, policyTypes: ["Egress"], egress: [{}]}}
`...)
	if err := os.WriteFile(filepath.Join(dir, "envgen.cue"), cue, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runWith(t, kubeconfig, "run", "--build-id", "fence-1", "--keep", "--quota", "cpu=2,memory=2Gi,pods=3", "--egress-allow", "10.64.4.0/24", dir)
	wantCode(t, r, 0)
	ns := runner.NamespaceName("fenced", "fence-1")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", ns, "--wait=false") })

	hard := kubectl(t, "get", "resourcequota", runner.FenceName, "-n", ns, "-o", "jsonpath={.spec.hard}")
	var got map[string]string
	if err := json.Unmarshal([]byte(hard), &got); err != nil {
		t.Fatalf("%v: %s", err, hard)
	}
	if want := map[string]string{"requests.cpu": "2", "requests.memory": "2Gi", "pods": "3"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the quota's hard bounds %v, want %v", got, want)
	}
	// The account's rights there are the ones it bound to itself.
	binding := kubectl(t, "get", "rolebinding", runner.BuildRoleName, "-n", ns, "-o", "jsonpath={.roleRef.kind}/{.roleRef.name} {.subjects}")
	if want := `ClusterRole/envgen-runner-build [{"kind":"ServiceAccount","name":"envgen","namespace":"jenkins-fence"}]`; binding != want {
		t.Errorf("the build namespace's RoleBinding: %s, want %s", binding, want)
	}
	wantContains(t, "stderr", r.Stderr, "not applying the ci overlay's NetworkPolicies (open): a build's network is its namespace's")
	if names := kubectl(t, "get", "networkpolicies", "-n", ns, "-o", "jsonpath={.items[*].metadata.name}"); names != runner.FenceName {
		t.Errorf("the build namespace's NetworkPolicies: %q, want the fence alone", names)
	}
	policy := kubectl(t, "get", "networkpolicy", runner.FenceName, "-n", ns, "-o", "jsonpath={.spec}")
	// In from its own Pods; out to its own Pods, DNS anywhere, public
	// addresses (never the cluster's private ones or the metadata
	// endpoint), and the block --egress-allow named.
	if want := `{"egress":[{"to":[{"podSelector":{}}]},{"ports":[{"port":53,"protocol":"UDP"},{"port":53,"protocol":"TCP"}]},` +
		`{"to":[{"ipBlock":{"cidr":"0.0.0.0/0","except":["0.0.0.0/8","10.0.0.0/8","100.64.0.0/10","127.0.0.0/8","168.63.129.16/32","169.254.0.0/16",` +
		`"172.16.0.0/12","192.0.0.0/24","192.168.0.0/16","198.18.0.0/15","240.0.0.0/4"]}},` +
		`{"ipBlock":{"cidr":"::/0","except":["::1/128","64:ff9b::/96","fc00::/7","fe80::/10"]}}]},{"to":[{"ipBlock":{"cidr":"10.64.4.0/24"}}]}],` +
		`"ingress":[{"from":[{"podSelector":{}}]}],"podSelector":{},"policyTypes":["Ingress","Egress"]}`; policy != want {
		t.Errorf("the isolation policy:\n%s\nwant\n%s", policy, want)
	}
	// The test service's container names no requests: the LimitRange gave
	// it the default ones, which the quota counted.
	requests := kubectl(t, "get", "pods", "-n", ns, "-l", "app.kubernetes.io/component=test-service", "-o", "jsonpath={.items[0].spec.containers[0].resources.requests}")
	if want := `{"cpu":"100m","memory":"128Mi"}`; requests != want {
		t.Errorf("the test service's requests %s, want the LimitRange's %s", requests, want)
	}

	// As the CI account: a Pod past the quota's CPU is refused by the
	// API server itself.
	file := filepath.Join(t.TempDir(), "greedy.yaml")
	if err := os.WriteFile(file, []byte(`apiVersion: v1
kind: Pod
metadata: {name: greedy, namespace: `+ns+`}
spec:
  securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: c
    image: registry.example.org/x:1
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
    resources: {requests: {cpu: "2"}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectlAs(kubeconfig, "create", "-f", file); err == nil || !strings.Contains(out, "exceeded quota: "+runner.FenceName) {
		t.Errorf("a Pod past the quota: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"delete", "resourcequota", runner.FenceName, "-n", ns},
		{"patch", "resourcequota", runner.FenceName, "-n", ns, "--type=merge", "-p", `{"spec":{"hard":{"pods":"1000"}}}`},
		{"delete", "limitrange", runner.FenceName, "-n", ns},
	} {
		if out, err := kubectlAs(kubeconfig, args...); err == nil || !strings.Contains(out, "forbidden") {
			t.Errorf("kubectl %v as the CI account: %v\n%s", args, err, out)
		}
	}
}

// TestRunRefusesWhatCannotFitItsQuota: a ci overlay whose test services
// alone exceed the quota is refused before anything is created (1),
// saying what it holds; with --quota to match, it runs.
func TestRunRefusesWhatCannotFitItsQuota(t *testing.T) {
	dir := service(t, "crowded", `services: {
		for n in ["a", "b", "c"] {(n): {image: "registry.example.org/db", tag: "1", resources: requests: cpu: "1"}}
	}`)
	r := run(t, "run", "--build-id", "crowded-1", "--quota", "cpu=3", dir)
	wantCode(t, r, 1)
	wantContains(t, "stderr", r.Stderr, "the ci overlay holds at least cpu=3100m")
	wantContains(t, "stderr", r.Stderr, "more than the build namespace's quota cpu=3,memory=16Gi,pods=20 allows (cpu)")
	out := kubectl(t, "get", "namespaces", "-o", "name")
	if strings.Contains(out, runner.NamespaceName("crowded", "crowded-1")) {
		t.Errorf("a namespace was created for a build refused before: %s", out)
	}
	r = run(t, "run", "--build-id", "crowded-2", "--quota", "cpu=3100m", dir)
	wantCode(t, r, 0)
}

// TestQuotaDemandMatchesTheAPIServer is envgen's quota arithmetic against
// kube-apiserver's: for generated Pods (init containers, sidecars,
// requests, limits or neither, in any mix), the quota's status.used once
// they exist is exactly runner.LeastDemand's, in a namespace fenced by
// runner.Fence with that quota, which they exactly fill.
func TestQuotaDemandMatchesTheAPIServer(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ENVGEN_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (ENVGEN_SEED=%d reproduces it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dyn, err := dynamic.NewForConfig(cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 12 {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			ns := fmt.Sprintf("quota-oracle-%d-%d", seed%100000, i)
			pods := generatePods(rng, ns)
			objects := make([]map[string]any, len(pods))
			for j, p := range pods {
				u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
				if err != nil {
					t.Fatal(err)
				}
				// All but one as Deployments of one replica each: the
				// demand counts every Deployment's Pod and the largest
				// build Pod; with one build Pod the sum is exact.
				if j > 0 {
					u = map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": p.Name},
						"spec": map[string]any{"replicas": int64(1), "template": map[string]any{"spec": u["spec"]}}}
				} else {
					u["apiVersion"], u["kind"] = "v1", "Pod"
				}
				objects[j] = u
			}
			demand, err := runner.LeastDemand(objects)
			if err != nil {
				t.Fatal(err)
			}
			kubectl(t, "create", "namespace", ns)
			t.Cleanup(func() { kubectl(t, "delete", "namespace", ns, "--wait=false") })
			quota := runner.Quota{CPU: demand.CPU, Memory: demand.Memory, Pods: demand.Pods}
			for _, obj := range runner.Fence(ns, quota, runner.Egress{}) {
				gvr := schema.GroupVersionResource{Version: "v1", Resource: strings.ToLower(obj.GetKind()) + "s"}
				if obj.GetKind() == "NetworkPolicy" {
					continue
				}
				if _, err := dyn.Resource(gvr).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			waitCounted(t, ns)
			for _, p := range pods {
				if _, err := cluster.Client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
					t.Fatalf("Pod %s refused in a quota of exactly its demand %s: %v", p.Name, demand, err)
				}
			}
			q, err := cluster.Client.CoreV1().ResourceQuotas(ns).Get(ctx, runner.FenceName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			used := q.Status.Used
			if c := used[corev1.ResourceRequestsCPU]; c.Cmp(demand.CPU) != 0 {
				t.Errorf("kube-apiserver counts requests.cpu %s, envgen %s", c.String(), demand.CPU.String())
			}
			if m := used[corev1.ResourceRequestsMemory]; m.Cmp(demand.Memory) != 0 {
				t.Errorf("kube-apiserver counts requests.memory %s, envgen %s", m.String(), demand.Memory.String())
			}
			if n := used[corev1.ResourcePods]; n.Value() != demand.Pods {
				t.Errorf("kube-apiserver counts %d pods, envgen %d", n.Value(), demand.Pods)
			}
			if t.Failed() {
				data, _ := json.MarshalIndent(pods, "", "  ")
				t.Logf("the Pods:\n%s", data)
			}
		})
	}
}

// waitCounted waits until kube-controller-manager has counted the quota
// (until then kube-apiserver refuses every Pod in the namespace).
func waitCounted(t *testing.T, ns string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		q, err := cluster.Client.CoreV1().ResourceQuotas(ns).Get(context.Background(), runner.FenceName, metav1.GetOptions{})
		if err == nil && len(q.Status.Used) == len(q.Spec.Hard) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the quota in %s was not counted in 30s: %v", ns, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// generatePods makes one to four Pods of one to two containers and zero
// to three init containers, some of them sidecars, each naming CPU and
// memory requests, limits, both (limit ≥ request) or neither.
func generatePods(rng *rand.Rand, ns string) []*corev1.Pod {
	cpus := []string{"10m", "50m", "100m", "250m", "500m", "1", "1500m", "2"}
	memories := []string{"16Mi", "64Mi", "100Mi", "128Mi", "256Mi", "1Gi", "1500Mi"}
	resources := func() corev1.ResourceRequirements {
		r := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
		for name, values := range map[corev1.ResourceName][]string{corev1.ResourceCPU: cpus, corev1.ResourceMemory: memories} {
			i := rng.IntN(len(values))
			switch rng.IntN(4) {
			case 0: // neither
			case 1:
				r.Requests[name] = resource.MustParse(values[i])
			case 2:
				r.Limits[name] = resource.MustParse(values[i])
			case 3:
				r.Requests[name] = resource.MustParse(values[i])
				r.Limits[name] = resource.MustParse(values[i+rng.IntN(len(values)-i)])
			}
		}
		return r
	}
	container := func(name string) corev1.Container {
		return corev1.Container{Name: name, Image: "registry.example.org/x:1", Resources: resources()}
	}
	always := corev1.ContainerRestartPolicyAlways
	var pods []*corev1.Pod
	for p := range 1 + rng.IntN(4) {
		spec := corev1.PodSpec{}
		for c := range 1 + rng.IntN(2) {
			spec.Containers = append(spec.Containers, container(fmt.Sprintf("c%d", c)))
		}
		for c := range rng.IntN(4) {
			init := container(fmt.Sprintf("init%d", c))
			if rng.IntN(2) == 0 {
				init.RestartPolicy = &always
			}
			spec.InitContainers = append(spec.InitContainers, init)
		}
		pods = append(pods, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", p), Namespace: ns}, Spec: spec})
	}
	return pods
}
