package realnode

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/internal/testcluster"
)

// The BuildKit daemons of the real lane run as envgen buildkit prints
// them, in the namespace buildkitNamespace, from an image the test makes
// of the buildkitd binary testbin built, Debian's runc and busybox.
const buildkitNamespace = "buildkit"

var (
	buildkitImageOnce sync.Once
	buildkitImage     string
	buildkitImageErr  error

	daemonsMu sync.Mutex
	daemons   = map[string]string{} // name → address

	// daemonPorts are the daemons' ports on the node's loopback (they
	// share the node's network): a free one each, so that two test
	// clusters on one machine do not collide, kept so that a benchmark
	// can reach a daemon straight, as buildctl would.
	daemonPorts = map[string]string{}
)

// daemonPort is the named daemon's port on the node's loopback.
func daemonPort(t testing.TB, name string) string {
	port, ok := daemonPorts[name]
	if !ok {
		t.Fatalf("no daemon %s", name)
	}
	return port
}

// freePort is a port no one listens on now.
func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// daemon starts (once per name) a buildkitd StatefulSet of one Pod as
// `envgen buildkit` prints it, with the extra flags, and returns the
// address envgen reaches it at (kube-pod://, through the API server).
//
// Two changes are the test's: hostNetwork, because the test registry
// listens on the machine's loopback, which a Pod on the bridge cannot
// reach (each daemon therefore gets a port of its own); and RUN steps on
// the daemon's network (--run-network host), because the test image has
// no CNI bridge and hostNetwork would make its iptables the machine's.
func daemon(t testing.TB, name string, flags ...string) string {
	t.Helper()
	daemonsMu.Lock()
	defer daemonsMu.Unlock()
	if addr, ok := daemons[name]; ok {
		return addr
	}
	buildkitImageOnce.Do(func() {
		buildkitImage, buildkitImageErr = cluster.PushHostImage("buildkit", map[string]string{
			"/usr/bin/buildkitd": filepath.Join(cluster.Bin, "buildkitd"),
			"/usr/bin/buildctl":  filepath.Join(cluster.Bin, "buildctl"),
			"/usr/bin/runc":      "/usr/sbin/runc",
		}, "/usr/bin/buildkitd") // as BuildKit's own image
	})
	if buildkitImageErr != nil {
		t.Fatalf("the buildkit image: %v", buildkitImageErr)
	}
	port := freePort(t)
	daemonPorts[name] = port
	args := append([]string{"buildkit", "--namespace", buildkitNamespace, "--name", name, "--image", buildkitImage,
		"--storage", "", "--insecure-registry", cluster.Registry, "--port", port,
		"--cpu", "100m", "--memory", "2Gi",
		// BuildKit's bridge would set up IP masquerading with iptables in
		// the daemon's network, which hostNetwork makes the machine's.
		"--run-network", "host"}, flags...)
	r := run(t, args...)
	e2ekit.WantCode(t, r, 0)
	manifests := withHostNetwork(t, r.Stdout)
	file := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(file, []byte(manifests), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := e2ekit.Kubectl(cluster, cluster.Kubeconfig, "apply", "-f", file); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	waitReady(t, buildkitNamespace, name+"-0", 2*time.Minute)
	addr := fmt.Sprintf("kube-pod://%s-0?namespace=%s&port=%s", name, buildkitNamespace, port)
	daemons[name] = addr
	return addr
}

// withHostNetwork puts the daemon's Pods on the node's network.
func withHostNetwork(t testing.TB, manifests string) string {
	t.Helper()
	var out []string
	for _, doc := range strings.Split(manifests, "\n---\n") {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		if u.GetKind() == "StatefulSet" {
			if err := unstructured.SetNestedField(u.Object, true, "spec", "template", "spec", "hostNetwork"); err != nil {
				t.Fatal(err)
			}
		}
		data, err := yaml.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(data))
	}
	return strings.Join(out, "---\n")
}

// waitReady waits until the Pod is Ready, and fails with its status and
// events if it is not within d.
func waitReady(t testing.TB, namespace, name string, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(d)
	var last *corev1.Pod
	for time.Now().Before(deadline) {
		pod, err := cluster.Client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			last = pod
			for _, c := range pod.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	events, _ := e2ekit.Kubectl(cluster, cluster.Kubeconfig, "-n", namespace, "get", "events")
	logs, _ := e2ekit.Kubectl(cluster, cluster.Kubeconfig, "-n", namespace, "logs", name, "--tail", "30")
	t.Fatalf("Pod %s/%s not Ready after %s: %+v\nevents:\n%s\nlogs:\n%s", namespace, name, d, last.Status, events, logs)
}

// repo writes a service repository: envgen.cue and the files (path →
// content), and returns its directory. The envgen.cue's image is the
// registry's repository name; its build section is build.
func repo(t testing.TB, name, build, ci string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	src := fmt.Sprintf(`name: %q
image: "%s/%s"
tag: "unused"
securityContext: runAsUser: 1000
build: {
%s
}
ci: {
	timeout: "5m"
%s
}
`, name, cluster.Registry, name, build, ci)
	files["envgen.cue"] = src
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fromBusybox is the first line of a Dockerfile on the registry's busybox.
func fromBusybox() string {
	return "FROM " + cluster.Registry + "/" + testcluster.BusyboxImage + ":" + testcluster.ImageTag
}
