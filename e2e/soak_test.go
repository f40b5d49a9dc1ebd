package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/runner"
)

// soakSize is how many builds the soak runs, and how many at once:
// ENVGEN_SOAK="50/20" (make soak); make test runs a smaller one.
func soakSize(t *testing.T) (runs, parallel int) {
	runs, parallel = 12, 6
	if v := os.Getenv("ENVGEN_SOAK"); v != "" {
		if _, err := fmt.Sscanf(v, "%d/%d", &runs, &parallel); err != nil || runs < 1 || parallel < 1 {
			t.Fatalf("ENVGEN_SOAK=%q: want RUNS/PARALLEL, e.g. 50/20", v)
		}
	}
	return runs, parallel
}

// Many builds at once while the API server keeps going away (every 1–3 s,
// for 0.5–3 s; connections cut, new ones refused): every build's exit code
// is its own (0 or 3, a third of them with a test service), a build whose
// Pod someone deletes from outside exits 125, and no namespace is left. The seed is printed to replay the outages' timing.
func TestSoakWithAPIServerOutages(t *testing.T) {
	runs, parallel := soakSize(t)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("ENVGEN_SOAK_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("soak: %d builds, %d at once, outages from seed %d (ENVGEN_SOAK_SEED)", runs, parallel, seed)

	p, kubeconfig := proxiedKubeconfig(t)
	plain := service(t, "soak", `annotations: "kwok.test/delay": "2s"`)
	failing := service(t, "soak", `annotations: {"kwok.test/delay": "2s", "kwok.test/exit-code": "3"}`)
	withDB := service(t, "soak", `annotations: "kwok.test/delay": "1s"
	services: db: {image: "registry.example.org/db", tag: "1", ports: pg: 5432, readiness: tcp: port: "pg", securityContext: runAsUser: 999}`)
	// A build someone deletes from outside while it runs (by hand, a
	// drain): 125, never the build's own code.
	long := service(t, "soak", `annotations: "kwok.test/delay": "60s"`)

	stop := make(chan struct{})
	outagesDone := make(chan int)
	go func() {
		outages := 0
		defer func() { outagesDone <- outages }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(1000+rng.IntN(2000)) * time.Millisecond):
			}
			p.down(t, time.Duration(500+rng.IntN(2500))*time.Millisecond)
			outages++
		}
	}()

	type build struct {
		dir  string
		want int
	}
	builds := make([]build, runs)
	for i := range builds {
		switch i % 4 {
		case 0:
			builds[i] = build{plain, 0}
		case 1:
			builds[i] = build{failing, 3}
		case 2:
			builds[i] = build{withDB, 0}
		default:
			builds[i] = build{long, 125}
		}
	}
	deleted := make(chan struct{})
	go func() {
		defer close(deleted)
		for i := range builds {
			if builds[i].dir == long {
				deleteWhenRunning(t, runner.NamespaceName("soak", fmt.Sprintf("soak-%d", i)), "soak-ci-build", stop)
			}
		}
	}()
	results := make([]result, runs)
	slots := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range builds {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			results[i] = runWith(t, kubeconfig, "run", "--build-id", fmt.Sprintf("soak-%d", i), builds[i].dir)
		}()
	}
	wg.Wait()
	close(stop)
	outages := <-outagesDone
	<-deleted

	wrong := 0
	for i, r := range results {
		if r.Code != builds[i].want {
			wrong++
			t.Errorf("build soak-%d: exit %d, want %d\n%s", i, r.Code, builds[i].want, r.Stderr)
		}
	}
	t.Logf("soak: %d builds, %d API server outages, %d wrong exit codes", runs, outages, wrong)
	deadline := time.Now().Add(60 * time.Second)
	for {
		list, err := cluster.Client.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{LabelSelector: runner.ServiceLabel + "=soak"})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var names []string
			for _, ns := range list.Items {
				names = append(names, ns.Name+" ("+string(ns.Status.Phase)+")")
				// What the build that left it said.
				for i, r := range results {
					if strings.Contains(ns.Name, fmt.Sprintf("-soak-%d-", i)) {
						t.Logf("build soak-%d (exit %d) left %s:\n%s", i, r.Code, ns.Name, r.Stderr)
					}
				}
			}
			t.Fatalf("%d namespaces left 60 s after the last build: %v", len(names), names)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// deleteWhenRunning deletes a build Pod once its build container runs, as
// someone outside envgen would, past the API server's outages (it talks
// to the API server directly); it gives up when stop is closed.
func deleteWhenRunning(t *testing.T, namespace, pod string, stop <-chan struct{}) {
	ctx := context.Background()
	for {
		select {
		case <-stop:
			t.Errorf("build Pod %s/%s never ran to be deleted", namespace, pod)
			return
		case <-time.After(200 * time.Millisecond):
		}
		p, err := cluster.Client.CoreV1().Pods(namespace).Get(ctx, pod, metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Running == nil {
			continue
		}
		if err := cluster.Client.CoreV1().Pods(namespace).Delete(ctx, pod, metav1.DeleteOptions{}); err == nil {
			return
		}
	}
}
