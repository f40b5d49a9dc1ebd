package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"envgen.dev/envgen/runner"
)

// kwokBuildTime is how long kwok runs a build Pod (the pod-succeed stage's
// default delay): the part of a run that is the build, not overhead.
const kwokBuildTime = time.Second

// BenchmarkRunOverhead runs the same CI build the envgen way and the stock
// way, alternately on the same cluster, and reports the overhead of each
// (wall time minus the build's own second) and their ratio. The stock way:
//
//	kubectl create ns && kubectl apply -k overlays/ci --server-side &&
//	kubectl wait (phase Succeeded) && kubectl logs && kubectl delete ns
//
// with the kubectl built with the control plane.
func BenchmarkRunOverhead(b *testing.B) {
	dir := b.TempDir()
	src := `name: "bench"
image: "registry.example.org/bench"
tag: "1.0"
securityContext: runAsUser: 1000
ci: {command: ["make", "test"], timeout: "5m"}
`
	if err := os.WriteFile(filepath.Join(dir, "envgen.cue"), []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	gen := exec.Command(envgen, "generate", "--allow-findings", dir)
	if out, err := gen.CombinedOutput(); err != nil {
		b.Fatalf("generate: %v\n%s", err, out)
	}
	overlay := filepath.Join(dir, "deploy", "overlays", "ci")

	// Benchmarks run more than once (b.N = 1, then more): ids must not
	// repeat while earlier namespaces are still being deleted.
	round := time.Now().UnixNano()
	var envgenTime, kubectlTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		cmd := exec.Command(envgen, "run", "--build-id", fmt.Sprintf("bench-envgen-%d-%d", round, i), dir)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("envgen run: %v\n%s", err, out)
		}
		envgenTime += time.Since(start)

		ns := runner.NamespaceName("bench", fmt.Sprintf("bench-kubectl-%d-%d", round, i))
		start = time.Now()
		for _, args := range [][]string{
			{"create", "namespace", ns},
			{"apply", "-k", overlay, "--server-side", "-n", ns},
			{"wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/bench-ci-build", "-n", ns, "--timeout=60s"},
			{"logs", "bench-ci-build", "-n", ns},
			{"delete", "namespace", ns, "--wait=false"},
		} {
			cmd := exec.Command(filepath.Join(cluster.Bin, "kubectl"), args...)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("kubectl %v: %v\n%s", args, err, out)
			}
		}
		kubectlTime += time.Since(start)
	}
	b.StopTimer()
	n := time.Duration(b.N)
	envgenOverhead := envgenTime/n - kwokBuildTime
	kubectlOverhead := kubectlTime/n - kwokBuildTime
	b.ReportMetric(float64(envgenOverhead.Milliseconds()), "envgen-overhead-ms")
	b.ReportMetric(float64(kubectlOverhead.Milliseconds()), "kubectl-overhead-ms")
	b.ReportMetric(float64(envgenOverhead)/float64(kubectlOverhead), "envgen/kubectl")
}
