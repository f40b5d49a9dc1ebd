package realnode

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestWritableRootOnARealNode shows writableRoot on the real kubelet (kwok
// enforces no read-only filesystem): the main container that opts out
// writes beside its binary, and its sidecar, which does not, cannot.
func TestWritableRootOnARealNode(t *testing.T) {
	ns := "real-writable-root"
	kubectl(t, "create", "namespace", ns)
	t.Cleanup(func() { kubectl(t, "delete", "namespace", ns, "--timeout=60s") })
	// The root mount's first option, rw or ro, as the runtime made it
	// (the busybox image's / belongs to root, so a write would fail on
	// permissions either way).
	try := `awk -v who="$0" '$2 == "/" {split($4, o, ","); print who ": root mounted " o[1]}' /proc/mounts; echo done; exec sleep 3600`
	src := fmt.Sprintf(`name: "vendor"
%s
securityContext: runAsUser: 1000
terminationGracePeriodSeconds: 1
command: ["sh", "-c", %q, "main"]
writableRoot: "the vendor's image writes its PID file beside the binary"
containers: helper: {kind: "sidecar", command: ["sh", "-c", %q, "helper"]}
ci: command: ["true"]
`, busybox(), try, try)
	manifests, _ := developmentManifests(t, src)
	kubectl(t, "apply", "-n", ns, "-f", manifests)
	if logs := waitForLog(t, ns, "vendor", "done\n"); logs != "main: root mounted rw\ndone\n" {
		t.Errorf("main, with writableRoot: %q", logs)
	}
	// The sidecar has said it by the time main has: wait for its line all
	// the same.
	helper := ""
	for range 60 {
		if helper = kubectl(t, "logs", "-n", ns, newestPod(t, ns, "vendor"), "-c", "helper"); strings.Contains(helper, "done\n") {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if helper != "helper: root mounted ro\ndone\n" {
		t.Errorf("the helper, without writableRoot: %q", helper)
	}
}
