package realnode

import (
	"fmt"
	"testing"
	"time"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/runner"
)

// TestEvictedByTheNode: the kubelet itself evicts the build Pod (here for
// writing past its emptyDir's sizeLimit; node pressure ends the same way:
// phase Failed, reason Evicted). The container's kill (137) is not the
// build's exit code: envgen run exits 125 with the kubelet's reason.
func TestEvictedByTheNode(t *testing.T) {
	const name = "real-evicted"
	dir := t.TempDir()
	writeFile(t, dir, fmt.Sprintf(`name: %q
%s
ports: http: 8080
securityContext: runAsUser: 1000
writable: "/scratch": sizeLimit: "1Mi"
ci: {
	timeout: "5m"
	command: ["sh", "-c", "dd if=/dev/zero of=/scratch/fill bs=1M count=8 && echo FILLED && exec sleep 300"]
}
`, name, busybox()))
	start := time.Now()
	r := run(t, "run", "--build-id", "evict-1", dir)
	t.Logf("evicted %s after the start", time.Since(start).Round(time.Second))
	e2ekit.WantCode(t, r, 125)
	e2ekit.WantContains(t, "stdout", r.Stdout, "FILLED")
	e2ekit.WantContains(t, "stderr", r.Stderr, "build did not finish: its Pod was evicted by the node: Usage of EmptyDir volume")
	e2ekit.NamespaceGone(t, cluster.Client, runner.NamespaceName(name, "evict-1"))
}
