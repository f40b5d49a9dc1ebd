package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"envgen.dev/envgen/runner"
)

// waitForRunningBuild waits until the build Pod of namespace runs.
func waitForRunningBuild(t *testing.T, namespace, pod string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		p, err := cluster.Client.CoreV1().Pods(namespace).Get(context.Background(), pod, metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("build Pod %s/%s did not start", namespace, pod)
}

func TestRunSignalsCleanUp(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			buildID := fmt.Sprintf("signal-%d", tc.sig)
			dir := service(t, "sig", `annotations: "kwok.test/delay": "120s"`)
			reportFile := filepath.Join(t.TempDir(), "report.json")
			cmd := exec.Command(envgen, "run", "--build-id", buildID, "--report", reportFile, dir)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ns := runner.NamespaceName("sig", buildID)
			waitForRunningBuild(t, ns, "sig-ci-build")
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			exit, ok := err.(*exec.ExitError)
			if !ok || exit.ExitCode() != tc.code {
				t.Fatalf("exit %v, want %d\n%s", err, tc.code, stderr.String())
			}
			wantContains(t, "stderr", stderr.String(), "interrupted by "+tc.sig.String())
			rep := readReport(t, reportFile)
			if rep.ExitCode != tc.code || rep.ExitCodeFrom != "envgen" || rep.Outcome != "interrupted" {
				t.Errorf("report: exit %d from %s, outcome %s", rep.ExitCode, rep.ExitCodeFrom, rep.Outcome)
			}
			// The wait that was cut: for the build's end, or an earlier wait on
			// the build Pod if envgen's watch had not yet seen what the test
			// read from the API server when it sent the signal (CI saw "pod
			// scheduled" cut once).
			names := phaseNames(rep)
			cut := false
			for _, wait := range []string{runner.PhaseScheduled, runner.PhaseStarted, runner.PhaseFinished} {
				cut = cut || strings.HasSuffix(names, wait+" (interrupted),cleanup")
			}
			if !cut {
				t.Errorf("phases %s: want an interrupted wait on the build Pod, then cleanup", names)
			}
			namespaceGone(t, ns)
		})
	}
}

// proxy forwards TCP to the API server and can cut every connection, as a
// load balancer restart or a network blip would.
type proxy struct {
	listener net.Listener
	target   string
	mu       sync.Mutex
	conns    []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{listener: l, target: target}
	go p.serve()
	t.Cleanup(func() { l.Close(); p.cut() })
	return p
}

func (p *proxy) serve() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		go func() { io.Copy(server, client); server.Close() }()
		go func() { io.Copy(client, server); client.Close() }()
	}
}

// cut closes every open connection; new ones are still accepted.
func (p *proxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	n := len(p.conns)
	p.conns = nil
	return n
}

func TestRunSurvivesBrokenConnections(t *testing.T) {
	p, kubeconfig := proxiedKubeconfig(t)
	dir := service(t, "flaky", `annotations: "kwok.test/delay": "6s"`)
	done := make(chan result, 1)
	go func() { done <- runWith(t, kubeconfig, "run", "--build-id", "cut-1", dir) }()
	ns := runner.NamespaceName("flaky", "cut-1")
	select {
	case r := <-done:
		t.Fatalf("run ended early: %d\n%s", r.Code, r.Stderr)
	case <-time.After(time.Second):
	}
	waitForRunningBuild(t, ns, "flaky-ci-build")
	time.Sleep(1500 * time.Millisecond) // the log stream is open by now
	if n := p.cut(); n == 0 {
		t.Fatal("no connections to cut")
	}
	time.Sleep(time.Second)
	p.cut()
	r := <-done
	wantCode(t, r, 0)
	if n := strings.Count(r.Stdout, "42 passing (2s)\n"); n != 1 {
		t.Errorf("last log line printed %d times:\n%s", n, r.Stdout)
	}
	namespaceGone(t, ns)
}

func TestConcurrentRunsDoNotCollide(t *testing.T) {
	dir := service(t, "many", `annotations: "kwok.test/delay": "2s"`)
	const runs = 10
	results := make([]result, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = run(t, "run", "--build-id", fmt.Sprintf("jenkins-many-%d", i), dir)
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, r := range results {
		wantCode(t, r, 0)
		ns := runner.NamespaceName("many", fmt.Sprintf("jenkins-many-%d", i))
		if seen[ns] {
			t.Errorf("namespace %s used twice", ns)
		}
		seen[ns] = true
		wantContains(t, "stderr", r.Stderr, "timing (namespace "+ns+")")
	}
	for ns := range seen {
		namespaceGone(t, ns)
	}
	list, err := cluster.Client.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{LabelSelector: runner.ServiceLabel + "=many"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Errorf("%d namespaces left behind", len(list.Items))
	}
}

func TestRunRefusesAnExistingNamespace(t *testing.T) {
	ns := runner.NamespaceName("taken", "b1")
	ctx := context.Background()
	_, err := cluster.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	r := run(t, "run", "--build-id", "b1", service(t, "taken", ""))
	wantCode(t, r, 125)
	wantContains(t, "stderr", r.Stderr, "it already exists; envgen never reuses a namespace")
	if _, err := cluster.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Errorf("the foreign namespace was touched: %v", err)
	}
}

// down makes the proxy refuse connections for d, as an API server that
// restarts does, and cuts the open ones.
func (p *proxy) down(t *testing.T, d time.Duration) {
	addr := p.listener.Addr().String()
	p.listener.Close()
	p.cut()
	time.Sleep(d)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Errorf("proxy back up on %s: %v", addr, err)
		return
	}
	p.mu.Lock()
	p.listener = l
	p.mu.Unlock()
	go p.serve()
}

// proxiedKubeconfig is the cluster's kubeconfig through a new proxy.
func proxiedKubeconfig(t *testing.T) (*proxy, string) {
	t.Helper()
	config, err := clientcmd.LoadFromFile(cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var p *proxy
	for _, c := range config.Clusters {
		server, err := url.Parse(c.Server)
		if err != nil {
			t.Fatal(err)
		}
		p = startProxy(t, server.Host)
		c.Server = "https://" + p.listener.Addr().String()
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*config, kubeconfig); err != nil {
		t.Fatal(err)
	}
	return p, kubeconfig
}

// The API server away for 3 s when the run starts, and again when the
// build ends: the requests are tried again (namespace, apply, delete) and
// the run ends as if nothing happened, leaving nothing behind.
func TestRunRidesOutAnAPIServerRestart(t *testing.T) {
	p, kubeconfig := proxiedKubeconfig(t)
	dir := service(t, "restart", `annotations: "kwok.test/delay": "4s"`)
	go p.down(t, 3*time.Second)
	time.Sleep(100 * time.Millisecond)
	done := make(chan result, 1)
	go func() { done <- runWith(t, kubeconfig, "run", "--build-id", "restart-1", dir) }()
	ns := runner.NamespaceName("restart", "restart-1")
	waitForRunningBuild(t, ns, "restart-ci-build")
	// The build ends about 4 s after it started: be away across its end
	// and the namespace's deletion.
	time.Sleep(3 * time.Second)
	p.down(t, 3*time.Second)
	r := <-done
	wantCode(t, r, 0)
	wantContains(t, "stdout", r.Stdout, "42 passing (2s)")
	namespaceGone(t, ns)
}

// The build ends while the API server is away (6 s, across the build's
// end): once it is back, envgen notices the end within seconds — its
// watch re-lists at most a second apart, not on client-go's growing
// backoff — and cleans up.
func TestBuildEndSeenSoonAfterTheAPIServerIsBack(t *testing.T) {
	p, kubeconfig := proxiedKubeconfig(t)
	dir := service(t, "endseen", `annotations: "kwok.test/delay": "3s"`)
	done := make(chan result, 1)
	go func() { done <- runWith(t, kubeconfig, "run", "--build-id", "endseen-1", dir) }()
	ns := runner.NamespaceName("endseen", "endseen-1")
	waitForRunningBuild(t, ns, "endseen-ci-build")
	time.Sleep(time.Second)
	p.down(t, 6*time.Second) // the build ends about 2 s into this
	back := time.Now()
	r := <-done
	wantCode(t, r, 0)
	if took := time.Since(back); took > 5*time.Second {
		t.Errorf("envgen ended %s after the API server was back, want within 5 s (cleanup included)", took.Round(time.Millisecond))
	} else {
		t.Logf("envgen ended %s after the API server was back (cleanup included)", took.Round(time.Millisecond))
	}
	namespaceGone(t, ns)
}

// A server that accepts the connection, completes TLS and never answers:
// envgen gives up after --request-timeout with 125, for run and gc alike.
func TestHungServerIsAClusterFailure(t *testing.T) {
	stop := make(chan struct{})
	hung := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer hung.Close()
	defer close(stop) // first: Close waits for the handlers
	config := clientcmdapi.NewConfig()
	config.Clusters["hung"] = &clientcmdapi.Cluster{Server: hung.URL, InsecureSkipTLSVerify: true}
	config.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "x"}
	config.Contexts["hung"] = &clientcmdapi.Context{Cluster: "hung", AuthInfo: "u"}
	config.CurrentContext = "hung"
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*config, kubeconfig); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"gc", "--request-timeout", "2s"},
		{"run", "--build-id", "hung-1", "--request-timeout", "2s", service(t, "hung", "")},
	} {
		r := runWith(t, kubeconfig, args...)
		wantCode(t, r, 125)
		wantContains(t, "stderr", r.Stderr, "did not answer within 2s (--request-timeout)")
		// Retries of a request that timed out: within the retry budget.
		if r.Took > 45*time.Second {
			t.Errorf("envgen %s took %s", args[0], r.Took)
		}
		t.Logf("envgen %s gave up after %s", args[0], r.Took.Round(time.Millisecond))
	}
}
