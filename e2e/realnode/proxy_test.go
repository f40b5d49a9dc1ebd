package realnode

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/internal/testcluster"
)

// TestProxyStartsBeforeTheMainContainer runs a Deployment envgen generated
// for a service behind a proxy (containers: kind "proxy", a Kubernetes
// native sidecar) on the real kubelet. The proxy listens only after two
// seconds; the main container's first act is a request through it, and a
// failed request ends the container. The kubelet must start the main
// container after the proxy's startup probe passed: the request succeeds
// on the first try, with no restart.
func TestProxyStartsBeforeTheMainContainer(t *testing.T) {
	src := fmt.Sprintf(`name: "real-proxy"
image: %q
tag: %q
securityContext: runAsUser: 1000
terminationGracePeriodSeconds: 1
command: ["sh", "-c", "wget -q -O - http://localhost:8081/ && echo main reached the proxy && exec sleep 3600"]
containers: proxy: {
	kind: "proxy"
	command: ["sh", "-c", "mkdir -p /tmp/www && echo pong from the proxy > /tmp/www/index.html && sleep 2 && exec httpd -f -p 8081 -h /tmp/www"]
	ports: proxy: 8081
	probes: startup: {tcp: port: "proxy", periodSeconds: 1}
}
ci: command: ["true"]
`, cluster.Registry+"/"+testcluster.BusyboxImage, testcluster.ImageTag)
	manifests, _ := developmentManifests(t, src)
	ns := "real-proxy"
	kubectl(t, "create", "namespace", ns)
	t.Cleanup(func() { kubectl(t, "delete", "namespace", ns, "--timeout=60s") })
	kubectl(t, "apply", "-n", ns, "-f", manifests)
	kubectl(t, "wait", "-n", ns, "--for=condition=Available", "deployment/real-proxy", "--timeout=90s")

	pods, err := cluster.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=real-proxy"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods: %v %v", pods, err)
	}
	pod := pods.Items[0]
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name == "real-proxy" && s.RestartCount != 0 {
			t.Errorf("the main container restarted %d times: it started before the proxy listened", s.RestartCount)
		}
	}
	logs := kubectl(t, "logs", "-n", ns, pod.Name, "-c", "real-proxy")
	if !strings.Contains(logs, "pong from the proxy\nmain reached the proxy\n") {
		t.Errorf("main container's log: %q", logs)
	}
}

// kubectl runs the control plane's kubectl as admin.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e2ekit.Kubectl(cluster, cluster.Kubeconfig, args...)
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return out
}
