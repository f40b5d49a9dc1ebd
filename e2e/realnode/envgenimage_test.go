package realnode

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/internal/envgenimage"
	"envgen.dev/envgen/internal/testcluster"
)

// TestEnvgenImageRunsOnARealNode runs envgen's own image (make image) as a
// CI build on the real node — non-root, read-only root filesystem, the
// restricted profile — vetting an envgen.cue from the build's config
// files: the evaluating child (a re-exec of the binary under an address
// space limit) works in it, and vet's exit code and findings come back
// through envgen run.
func TestEnvgenImageRunsOnARealNode(t *testing.T) {
	image, digest := pushEnvgenImage(t)
	// An envgen.cue with a newcomer's mistake, for vet to find.
	inner := "name: \"inner\"\nimage: \"registry.example.org/inner\"\ntag: \"1\"\nreplica: 2\n"
	dir := t.TempDir()
	writeFile(t, dir, fmt.Sprintf(`name: "self"
%s
securityContext: runAsUser: 1000
files: "/config/envgen.cue": %q
ci: {image: %q, digest: %q, timeout: "5m", command: ["/envgen", "vet", "/config"]}
`, busybox(), inner, image, digest))
	r := run(t, "run", "--build-id", "image-1", dir)
	e2ekit.WantCode(t, r, 1)
	e2ekit.WantContains(t, "stdout", r.Stdout, "replica: field not allowed: did you mean replicas?")
}

// TestJenkinsAgentGetsEnvgenFromTheImage runs the documented Jenkins agent
// Pod (docs/jenkins/resources/envgen-agent.yaml) on the real node, with
// busybox in place of Jenkins' agent image: envgen's image, as an init
// container, installs its binary into the volume the agent container puts
// on its PATH, and the agent's shell runs it.
func TestJenkinsAgentGetsEnvgenFromTheImage(t *testing.T) {
	image, digest := pushEnvgenImage(t)
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "jenkins", "resources", "envgen-agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pod map[string]any
	if err := yaml.Unmarshal([]byte(strings.ReplaceAll(string(data), "ENVGEN_IMAGE", image+"@"+digest)), &pod); err != nil {
		t.Fatal(err)
	}
	pod["metadata"] = map[string]any{"name": "agent"}
	spec := pod["spec"].(map[string]any)
	agent := spec["containers"].([]any)[0].(map[string]any)
	agent["image"] = cluster.Registry + "/" + testcluster.BusyboxImage + ":" + testcluster.ImageTag
	// rbac is envgen-cluster's: install put it beside envgen.
	agent["command"] = []any{"sh", "-c", "envgen version && envgen rbac >/dev/null && echo agent done; exec sleep 3600"}
	spec["tolerations"] = []any{map[string]any{"key": "envgen.test/real-node", "operator": "Exists"}}
	out, err := yaml.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(manifest, out, 0o644); err != nil {
		t.Fatal(err)
	}
	ns := "real-jenkins-agent"
	kubectl(t, "create", "namespace", ns)
	kubectl(t, "label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", ns, "--timeout=60s") })
	kubectl(t, "apply", "-n", ns, "-f", manifest)
	logs := ""
	for range 120 {
		logs, _ = e2ekit.Kubectl(cluster, cluster.Kubeconfig, "logs", "-n", ns, "agent", "-c", "jnlp")
		if strings.Contains(logs, "agent done\n") {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !strings.Contains(logs, "envgen ") || !strings.Contains(logs, "agent done\n") {
		t.Errorf("the agent did not run envgen from its tools volume: %q", logs)
	}
}

// pushEnvgenImage builds envgen and envgen-cluster static, assembles its image as make image
// does, and pushes it to the node's registry.
func pushEnvgenImage(t *testing.T) (image, digest string) {
	t.Helper()
	binary := filepath.Join(t.TempDir(), "envgen")
	if err := e2ekit.BuildBinaries(filepath.Dir(binary)); err != nil {
		t.Fatal(err)
	}
	img, err := envgenimage.Build(binary, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	image, digest, err = cluster.PushImage("envgen", img)
	if err != nil {
		t.Fatal(err)
	}
	return image, digest
}
