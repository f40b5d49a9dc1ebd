package realnode

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/internal/testcluster"
)

// TestMountsInsideAReadOnlyMount is the real-node ground for where envgen
// draws the line on mounts inside a mounted Secret (read-only):
//   - a directory inside one — another Secret, a writable path — works:
//     the container runtime makes the mount points before the outer mount
//     is made read-only. envgen accepts it, and the container reads both.
//   - a config file inside one does not: the file is mounted alone (a
//     subPath), and the container never starts. envgen refuses it, so the
//     Pod here is envgen's own with the file moved into the mount.
//
// (A review expected both to fail; kwok would have run both.)
func TestMountsInsideAReadOnlyMount(t *testing.T) {
	ns := "real-nested-mounts"
	kubectl(t, "create", "namespace", ns)
	t.Cleanup(func() { kubectl(t, "delete", "namespace", ns, "--timeout=60s") })
	kubectl(t, "create", "secret", "generic", "-n", ns, "app", "--from-literal=password=from-app")
	kubectl(t, "create", "secret", "generic", "-n", ns, "tls", "--from-literal=tls.crt=from-tls")

	src := fmt.Sprintf(`name: "nested"
image: %q
tag: %q
securityContext: runAsUser: 1000
terminationGracePeriodSeconds: 1
command: ["sh", "-c", "cat /etc/app/password /etc/app/tls/tls.crt /etc/app-config/config.ini && echo ok > /etc/app/cache/w && echo all read && exec sleep 3600"]
mounts: {
	"/etc/app": secret: "app"
	"/etc/app/tls": secret: "tls"
}
writable: "/etc/app/cache": {}
files: "/etc/app-config/config.ini": "from-files"
ci: command: ["true"]
`, cluster.Registry+"/"+testcluster.BusyboxImage, testcluster.ImageTag)
	manifests, built := developmentManifests(t, src)
	kubectl(t, "apply", "-n", ns, "-f", manifests)
	kubectl(t, "wait", "-n", ns, "--for=condition=Available", "deployment/nested", "--timeout=90s")
	if logs := kubectl(t, "logs", "-n", ns, "deployment/nested"); !strings.Contains(logs, "from-appfrom-tlsfrom-filesall read\n") {
		t.Errorf("the container's log: %q", logs)
	}

	// The file moved into the Secret's mount, as envgen would have
	// generated it had it not refused, in a namespace of its own.
	inside := strings.ReplaceAll(built, "mountPath: /etc/app-config/config.ini", "mountPath: /etc/app/config.ini")
	if inside == built {
		t.Fatal("no config file mount in envgen's Deployment")
	}
	moved := filepath.Join(t.TempDir(), "inside.yaml")
	if err := os.WriteFile(moved, []byte(inside), 0o644); err != nil {
		t.Fatal(err)
	}
	ns2 := ns + "-file"
	kubectl(t, "create", "namespace", ns2)
	t.Cleanup(func() { kubectl(t, "delete", "namespace", ns2, "--timeout=60s") })
	kubectl(t, "create", "secret", "generic", "-n", ns2, "app", "--from-literal=password=from-app")
	kubectl(t, "create", "secret", "generic", "-n", ns2, "tls", "--from-literal=tls.crt=from-tls")
	kubectl(t, "apply", "-n", ns2, "-f", moved)
	out, err := e2ekit.Kubectl(cluster, cluster.Kubeconfig, "wait", "-n", ns2, "--for=condition=Available", "deployment/nested", "--timeout=20s")
	if err == nil {
		t.Fatalf("a config file inside a mounted Secret works (%s): envgen refuses it for nothing", out)
	}
	status := kubectl(t, "get", "pods", "-n", ns2, "-o", "jsonpath={.items[*].status.containerStatuses[*].lastState.terminated.message}")
	if !strings.Contains(status, "/etc/app/config.ini") {
		t.Errorf("the container did not start, for another reason than the file's mount: %q", status)
	}
	t.Logf("as envgen says: %s", status)
}
