package realnode

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"envgen.dev/envgen/internal/e2ekit"
	"envgen.dev/envgen/internal/testcluster"
)

// The spike report's second node configuration is a real one: a build runs
// on containerd 2 with kubelet's EventedPLEG gate, its log and exit code
// come through as on the lane's node, and the kubelet's events stream from
// containerd is up (its metrics count a connection and no error), so the
// report measures the gate, not a kubelet that fell back to relisting.
// Stopped, it leaves nothing behind, like the lane's node.
func TestBuildOnTheEventedNode(t *testing.T) {
	ctx := context.Background()
	evented, err := testcluster.Start(ctx, testcluster.Options{RealNode: true, EventedNode: true})
	if err != nil {
		t.Fatalf("starting the evented node: %v", err)
	}
	defer func() {
		evented.Stop()
		if left := evented.Leftovers(); len(left) > 0 {
			t.Errorf("the stopped evented node left behind: %v", left)
		}
	}()
	dir := serviceIn(t, evented, "evented", `command: ["sh", "-c", "echo built on containerd 2; exit 7"]`)
	r := e2ekit.Run(t, envgen, evented.Kubeconfig, "run", "--build-id", "evented-1", dir)
	e2ekit.WantCode(t, r, 7)
	e2ekit.WantContains(t, "stdout", r.Stdout, "built on containerd 2\n")

	metrics := kubeletMetrics(t, evented)
	value := func(name string) float64 {
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(metrics)
		if m == nil {
			t.Fatalf("the kubelet has no metric %s: is EventedPLEG on?", name)
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return v
	}
	if n := value("kubelet_evented_pleg_connection_latency_seconds_count"); n < 1 {
		t.Errorf("the kubelet never connected to containerd's events stream (%v connections)", n)
	}
	if n := value("kubelet_evented_pleg_connection_error_count"); n != 0 {
		t.Errorf("the kubelet's events stream from containerd failed %v times", n)
	}
}

// kubeletMetrics reads the real node's kubelet's metrics from its port
// (the test node allows anonymous reads, on 127.0.0.1; its certificate is
// its own, self-signed).
func kubeletMetrics(t *testing.T, c *testcluster.Cluster) []byte {
	t.Helper()
	node, err := c.Client.CoreV1().Nodes().Get(context.Background(), testcluster.RealNodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the test node's own certificate
	}}
	resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/metrics", node.Status.DaemonEndpoints.KubeletEndpoint.Port))
	if err != nil {
		t.Fatalf("the kubelet's metrics: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the kubelet's metrics: %s %v", resp.Status, err)
	}
	return data
}
