package realnode

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"envgen.dev/envgen/internal/e2ekit"
)

// renderer builds cmd/envgen-render static and pushes it to the node's
// registry as the scratch image its Dockerfile describes; it returns the
// fileRenderer field that names it.
func renderer(t *testing.T) string {
	t.Helper()
	binary := filepath.Join(t.TempDir(), "envgen-render")
	build := exec.Command("go", "build", "-trimpath", "-o", binary, "envgen.dev/envgen/cmd/envgen-render")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building envgen-render: %v\n%s", err, out)
	}
	image, digest, err := cluster.PushStaticImage("envgen-render", binary)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("fileRenderer: {image: %q, digest: %q}\n", image, digest)
}

// waitForLog waits until the newest Pod of the Deployment that is not
// being deleted has logged want, and returns that log: the Pod a rollout
// started, read once it has said what the test reads (not once it is
// Ready, and not an old Pod that is still stopping).
func waitForLog(t *testing.T, namespace, deployment, want string) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var logs string
	for time.Now().Before(deadline) {
		if pod := newestPod(t, namespace, deployment); pod != "" {
			out, err := e2ekit.Kubectl(cluster, cluster.Kubeconfig, "logs", "-n", namespace, pod, "-c", deployment)
			if logs = out; err == nil && strings.Contains(out, want) {
				return out
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("deployment/%s never logged %q; last: %q\n%s", deployment, want, logs,
		kubectl(t, "get", "pods", "-n", namespace, "-o", "wide"))
	return ""
}

// newestPod names the Deployment's newest Pod not being deleted.
func newestPod(t *testing.T, namespace, deployment string) string {
	var list struct {
		Items []struct {
			Metadata struct {
				Name              string     `json:"name"`
				CreationTimestamp time.Time  `json:"creationTimestamp"`
				DeletionTimestamp *time.Time `json:"deletionTimestamp"`
			} `json:"metadata"`
		} `json:"items"`
	}
	out := kubectl(t, "get", "pods", "-n", namespace, "-l", "app.kubernetes.io/instance="+deployment, "-o", "json")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	var name string
	var newest time.Time
	for _, p := range list.Items {
		if m := p.Metadata; m.DeletionTimestamp == nil && !m.CreationTimestamp.Before(newest) {
			name, newest = m.Name, m.CreationTimestamp
		}
	}
	return name
}

// TestFileSecretsOnARealNode shows a config file whose secret comes from
// a Secret at runtime, on the real kubelet: the renderer's image (no
// shell) fills the placeholder — a value with newlines and a "${…}" of
// its own, written as it is — the file is where the application reads
// it, in memory and read-only, the ConfigMap holds no secret, and a
// change of the content or of the Secret named rolls the Deployment to
// Pods that read the new file. Then envgen run gives the build Pod the
// file from the build's own Secret (ci.secrets).
func TestFileSecretsOnARealNode(t *testing.T) {
	fileRenderer := renderer(t)
	ns := "real-file-secrets"
	kubectl(t, "create", "namespace", ns)
	t.Cleanup(func() { kubectl(t, "delete", "namespace", ns, "--timeout=60s") })
	kubectl(t, "create", "secret", "generic", "-n", ns, "db", "--from-literal=password=p4ss ${NOT_OURS}\nline two")
	kubectl(t, "create", "secret", "generic", "-n", ns, "db-2", "--from-literal=password=rotated")

	// The container shows the file, where it is mounted from, and whether
	// it can write it, then says it is done.
	show := `cat /etc/app/config.yaml; ` +
		`awk '$2 == "/etc/app/config.yaml" {print "mounted from " $3}' /proc/mounts; ` +
		`if (echo x >> /etc/app/config.yaml) 2>/dev/null; then echo writable; else echo read-only; fi; ` +
		`echo done; exec sleep 3600`
	source := func(content, secret string) string {
		return fmt.Sprintf(`name: "rendered"
%s
securityContext: runAsUser: 1000
terminationGracePeriodSeconds: 1
command: ["sh", "-c", %q]
files: "/etc/app/config.yaml": %q
fileSecrets: "/etc/app/config.yaml": PASSWORD: {secret: %q, key: "password"}
%s
ci: {
	command: ["sh", "-c", "grep -qx 'password: from-ci' /etc/app/config.yaml && echo the build read its file"]
	secrets: "rendered-ci": ["password"]
}
environments: ci: fileSecrets: "/etc/app/config.yaml": PASSWORD: {secret: "rendered-ci", key: "password"}
`, busybox(), show, content, secret, fileRenderer)
	}

	manifests, built := developmentManifests(t, source("user: app\npassword: ${PASSWORD}\nlog: ${LOG_DIR}\n", "db"))
	kubectl(t, "apply", "-n", ns, "-f", manifests)
	logs := waitForLog(t, ns, "rendered", "done\n")
	want := "user: app\npassword: p4ss ${NOT_OURS}\nline two\nlog: ${LOG_DIR}\nmounted from tmpfs\nread-only\ndone\n"
	if logs != want {
		t.Errorf("the first Pod's log:\n%q\nwant\n%q", logs, want)
	}
	if cm := kubectl(t, "get", "configmap", "-n", ns, "rendered-files", "-o", "yaml"); strings.Contains(cm, "p4ss") || !strings.Contains(cm, "${PASSWORD}") {
		t.Errorf("the files ConfigMap should hold the placeholder, not the value:\n%s", cm)
	}
	if strings.Contains(built, "p4ss") {
		t.Error("envgen's manifests hold the secret value")
	}

	// A change of the reviewed content rolls the Deployment.
	manifests, _ = developmentManifests(t, source("user: app2\npassword: ${PASSWORD}\n", "db"))
	kubectl(t, "apply", "-n", ns, "-f", manifests)
	kubectl(t, "rollout", "status", "-n", ns, "deployment/rendered", "--timeout=90s")
	if logs := waitForLog(t, ns, "rendered", "done\n"); !strings.HasPrefix(logs, "user: app2\npassword: p4ss ${NOT_OURS}\nline two\n") {
		t.Errorf("after a change of content, the new Pod's log: %q", logs)
	}

	// So does a change of the Secret the file's secret comes from.
	manifests, _ = developmentManifests(t, source("user: app2\npassword: ${PASSWORD}\n", "db-2"))
	kubectl(t, "apply", "-n", ns, "-f", manifests)
	kubectl(t, "rollout", "status", "-n", ns, "deployment/rendered", "--timeout=90s")
	if logs := waitForLog(t, ns, "rendered", "done\n"); !strings.HasPrefix(logs, "user: app2\npassword: rotated\n") {
		t.Errorf("after a change of Secret, the new Pod's log: %q", logs)
	}

	// envgen run: the build Pod's file is filled from the Secret the run
	// creates from --secret.
	dir := t.TempDir()
	writeFile(t, dir, source("password: ${PASSWORD}\n", "db"))
	t.Setenv("RENDERED_CI_PASSWORD", "from-ci")
	r := run(t, "run", "--build-id", "file-secrets-1", "--secret", "rendered-ci/password=env:RENDERED_CI_PASSWORD", dir)
	e2ekit.WantCode(t, r, 0)
	e2ekit.WantContains(t, "stdout", r.Stdout, "the build read its file\n")
}
