package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/internal/e2ekit"
)

// The first version of a service, and the next one, which adds a canary
// behind the main Service and an internal release with a Service of its
// own.
const (
	releasesBefore = `name: "shop"
image: "registry.example.org/shop"
tag: "1.0"
ports: http: 8080
securityContext: runAsUser: 1000
replicas: 2
ci: command: ["make"]
`
	releasesAfter = releasesBefore + `releases: {
	canary: {environments: ["production"], replicas: 1, tag: "1.1"}
	internal: {environments: ["production"], traffic: "own", replicas: 1}
}
`
)

// TestReleasesShareTheMainService applies a service's production overlay,
// then the next version's, which adds releases, and asks the real
// controllers what the Services send traffic to: kube-controller-manager's
// EndpointSlice controller over the Pods kwok runs. The main Service must
// keep its Pods from the first moment (adding a canary does not roll the
// main Deployment), add the canary's, and not the internal release's,
// which its own Service serves alone.
func TestReleasesShareTheMainService(t *testing.T) {
	dir := t.TempDir()
	ns := "releases-e2e"
	kubectl(t, "create", "namespace", ns)
	t.Cleanup(func() { kubectl(t, "delete", "namespace", ns, "--wait=false") })
	apply := func(src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "envgen.cue"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		e2ekit.WantCode(t, run(t, "generate", "--allow-findings", dir), 0)
		kubectl(t, "apply", "-k", filepath.Join(dir, "deploy", "overlays", "production"), "-n", ns)
	}
	ctx := context.Background()

	apply(releasesBefore)
	mainPods := waitEndpoints(t, ns, "shop", 2)
	before, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	apply(releasesAfter)
	after, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Generation != before.Generation {
		t.Errorf("adding releases changed the main Deployment (generation %d → %d): its Pods would be replaced", before.Generation, after.Generation)
	}
	// The main release's Pods stay behind the Service in every sample the
	// endpoint controller gives, until the canary's has joined them.
	var shared []string
	for deadline := time.Now().Add(60 * time.Second); len(shared) != 3; time.Sleep(100 * time.Millisecond) {
		shared = readyEndpoints(t, ns, "shop")
		for _, pod := range mainPods {
			if !slices.Contains(shared, pod) {
				t.Fatalf("after the releases were applied, the main Service's ready endpoints are %v: %s, a Pod of the main release, lost its traffic", shared, pod)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the canary's Pod did not join the main Service's endpoints in 60s: %v", shared)
		}
	}
	internal := waitEndpoints(t, ns, "shop-internal", 1)
	for _, pod := range internal {
		if slices.Contains(shared, pod) {
			t.Errorf("the main Service sends traffic to %s, a Pod of the release with its own Service", pod)
		}
	}
	canary := 0
	for _, pod := range shared {
		if p, err := cluster.Client.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{}); err == nil && p.Labels["envgen.dev/release"] == "canary" {
			canary++
		}
	}
	if canary != 1 {
		t.Errorf("the main Service's endpoints %v hold %d canary Pods, want 1", shared, canary)
	}
}

// waitEndpoints waits until the Service's EndpointSlices name exactly want
// ready Pods, and returns their names.
func waitEndpoints(t *testing.T, ns, service string, want int) []string {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		pods := readyEndpoints(t, ns, service)
		if len(pods) == want {
			return pods
		}
		if time.Now().After(deadline) {
			t.Fatalf("Service %s: ready endpoints %v after 60s, want %d", service, pods, want)
		}
	}
}

func readyEndpoints(t *testing.T, ns, service string) []string {
	t.Helper()
	list, err := cluster.Client.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=" + service,
	})
	if err != nil {
		t.Fatal(err)
	}
	var pods []string
	for _, s := range list.Items {
		for _, e := range s.Endpoints {
			if e.TargetRef != nil && e.Conditions.Ready != nil && *e.Conditions.Ready {
				pods = append(pods, e.TargetRef.Name)
			}
		}
	}
	slices.Sort(pods)
	return pods
}
