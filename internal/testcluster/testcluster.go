// Package testcluster starts a real, throwaway Kubernetes control plane for
// envgen's end-to-end tests: etcd and kube-apiserver (through
// controller-runtime's envtest), kube-controller-manager (namespace
// deletion, garbage collection, Deployments), kube-scheduler, and kwok as
// the kubelet of one fake Node, so that Pods really move through their
// phases and serve logs; and, when asked, a real node (kubelet, containerd,
// runc, the CNI bridge, images from a registry in this process) where Pods
// really run. The binaries are built from the module proxy by
// hack/testbin.sh (make testbin) and cached.
//
// Each test package starts its own cluster on random ports.
package testcluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// NodeName is the fake Node kwok runs Pods on.
const NodeName = "kwok-node-0"

// Cluster is a running control plane.
type Cluster struct {
	// Kubeconfig is the path of an admin kubeconfig.
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
	// Bin is the directory of the control-plane binaries (kubectl too).
	Bin string
	// Dir holds the cluster's files and the components' logs.
	Dir string
	// Registry is host:port of the real node's image registry, which
	// serves BusyboxImage and PauseImage; "" without a real node.
	Registry string

	env   *envtest.Environment
	procs []*exec.Cmd
	node  *realNode
}

// Ctr is the path of the ctr client of the real node's containerd.
func (c *Cluster) Ctr() string {
	if c.node != nil && c.node.evented {
		return filepath.Join(c.Bin, Containerd2Dir, "ctr")
	}
	return "/usr/bin/ctr"
}

// ContainerdSocket is the real node's containerd socket ("" without one):
// benchmarks run plain containers beside the Pods on it.
func (c *Cluster) ContainerdSocket() string {
	if c.node == nil {
		return ""
	}
	return c.node.socket
}

// Options say which nodes a cluster has. With both, the real node is
// tainted (RealNodeTaint): Pods go to kwok unless they tolerate it.
type Options struct {
	// Kwok adds kwok's fake node, NodeName. KwokLog, if set, is a CRI
	// format log that kwok serves as every container's log.
	Kwok    bool
	KwokLog string
	// RealNode adds a kubelet with containerd, RealNodeName.
	RealNode bool
	// EventedNode runs the real node on containerd 2 (built from the module
	// proxy by hack/testbin.sh; Debian ships 1.6) with kubelet's EventedPLEG
	// feature gate: container starts and exits come as CRI events instead
	// of from the kubelet's relist every second. It is the second node
	// configuration of the spike report.
	EventedNode bool
}

// RepoRoot is the envgen repository's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// BinDir returns the directory of the control-plane binaries: $ENVGEN_TESTBIN
// if set, else what hack/testbin.sh prints (building them the first time).
func BinDir() (string, error) {
	if dir := os.Getenv("ENVGEN_TESTBIN"); dir != "" {
		return dir, nil
	}
	cmd := exec.Command(filepath.Join(RepoRoot(), "hack", "testbin.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/testbin.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Start starts a cluster; Stop it when done.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	// envtest logs through controller-runtime's logger, which otherwise
	// prints a stack trace saying it has none when a second cluster
	// starts in one process.
	ctrllog.SetLogger(logr.Discard())
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "envgen-testcluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Bin: bin, Dir: dir}
	if err := c.start(ctx, opts); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, opts Options) error {
	c.env = &envtest.Environment{BinaryAssetsDirectory: c.Bin}
	// RBAC on, as in a real cluster: the RBAC test runs envgen as a
	// ServiceAccount with only what `envgen rbac` grants.
	// And the ServiceAccount admission plugin on (envtest turns it off): Pods
	// are refused until kube-controller-manager has created the namespace's
	// default ServiceAccount, a race envgen run must handle.
	c.env.ControlPlane.GetAPIServer().Configure().
		Set("authorization-mode", "Node,RBAC").
		Disable("disable-admission-plugins")
	if _, err := c.env.Start(); err != nil {
		return fmt.Errorf("starting etcd and kube-apiserver: %w", err)
	}
	admin, err := c.env.ControlPlane.AddUser(envtest.User{Name: "envgen-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, kubeconfig, 0o600); err != nil {
		return err
	}
	c.Config = admin.Config()
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return err
	}

	certDir := c.env.ControlPlane.APIServer.CertDir
	if err := c.run("kube-controller-manager", "--kubeconfig="+c.Kubeconfig, "--leader-elect=false", "--secure-port=0",
		"--service-account-private-key-file="+filepath.Join(certDir, "sa-signer.key"),
		"--use-service-account-credentials=false"); err != nil {
		return err
	}
	if err := c.run("kube-scheduler", "--kubeconfig="+c.Kubeconfig, "--leader-elect=false", "--secure-port=0"); err != nil {
		return err
	}
	if opts.Kwok {
		if err := c.startKwok(ctx, opts.KwokLog); err != nil {
			return err
		}
	}
	if opts.RealNode {
		if err := c.startRealNode(ctx, opts.Kwok, opts.EventedNode); err != nil {
			return err
		}
	}
	return c.waitForDefaultServiceAccount(ctx)
}

// startKwok starts kwok and registers its fake Node.
func (c *Cluster) startKwok(ctx context.Context, logFile string) error {
	certDir := c.env.ControlPlane.APIServer.CertDir
	configs, err := c.kwokConfig(logFile)
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	args := []string{"--kubeconfig=" + c.Kubeconfig,
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-lease-duration-seconds=40", "--cidr=10.244.0.0/16", "--node-ip=127.0.0.1",
		"--node-port=" + strconv.Itoa(port), "--server-address=127.0.0.1:" + strconv.Itoa(port),
		"--tls-cert-file=" + filepath.Join(certDir, "apiserver.crt"),
		"--tls-private-key-file=" + filepath.Join(certDir, "apiserver.key")}
	for _, cfg := range configs {
		args = append(args, "--config="+cfg)
	}
	if err := c.run("kwok", args...); err != nil {
		return err
	}
	return c.createNode(ctx)
}

// kwokConfig writes the stages: kwok's own, with pod-ready taught to leave
// alone the Pods a test wants stuck, and the project's.
func (c *Cluster) kwokConfig(logFile string) ([]string, error) {
	var stages bytes.Buffer
	for _, name := range []string{"node-initialize.yaml", "node-heartbeat-with-lease.yaml", "pod-ready.yaml", "pod-delete.yaml"} {
		data, err := os.ReadFile(filepath.Join(c.Bin, "kwok-stages", name))
		if err != nil {
			return nil, fmt.Errorf("kwok stages (run make testbin): %w", err)
		}
		if name == "pod-ready.yaml" {
			data = bytes.Replace(data, []byte("    matchExpressions:\n"), []byte("    matchExpressions:\n"+
				"    - key: '.metadata.annotations[\"kwok.test/waiting-reason\"]'\n      operator: 'DoesNotExist'\n"), 1)
		}
		stages.Write(data)
		stages.WriteString("\n---\n")
	}
	own, err := os.ReadFile(filepath.Join(RepoRoot(), "hack", "kwok", "stages.yaml"))
	if err != nil {
		return nil, err
	}
	stages.Write(own)
	stagesFile := filepath.Join(c.Dir, "stages.yaml")
	if err := os.WriteFile(stagesFile, stages.Bytes(), 0o644); err != nil {
		return nil, err
	}
	files := []string{stagesFile}
	if logFile != "" {
		abs, err := filepath.Abs(logFile)
		if err != nil {
			return nil, err
		}
		logs := fmt.Sprintf(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata: {name: all-pods}
spec:
  selector: {}
  logs:
  - containers: []
    logsFile: %s
    follow: false
`, abs)
		logsFile := filepath.Join(c.Dir, "logs.yaml")
		if err := os.WriteFile(logsFile, []byte(logs), 0o644); err != nil {
			return nil, err
		}
		files = append(files, logsFile)
	}
	return files, nil
}

// run starts one of the control plane's binaries, logging to Dir.
func (c *Cluster) run(name string, args ...string) error {
	cmd, err := c.startLogged(name, filepath.Join(c.Bin, name), args...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, cmd)
	return nil
}

// runIn starts a process of the real node.
func (c *Cluster) runIn(n *realNode, name, path string, args ...string) error {
	return c.runInEnv(n, name, nil, path, args...)
}

func (c *Cluster) runInEnv(n *realNode, name string, env []string, path string, args ...string) error {
	cmd, err := c.startLoggedEnv(name, env, path, args...)
	if err != nil {
		return err
	}
	n.procs = append(n.procs, cmd)
	return nil
}

func (c *Cluster) startLogged(name, path string, args ...string) (*exec.Cmd, error) {
	return c.startLoggedEnv(name, nil, path, args...)
}

// startLoggedEnv starts a process with env added to this one's.
func (c *Cluster) startLoggedEnv(name string, env []string, path string, args ...string) (*exec.Cmd, error) {
	logFile, err := os.Create(filepath.Join(c.Dir, name+".log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(path, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return cmd, nil
}

// createNode registers kwok's fake Node and waits until it is Ready.
func (c *Cluster) createNode(ctx context.Context) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:        NodeName,
		Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		Labels:      map[string]string{"kubernetes.io/hostname": NodeName, "kubernetes.io/os": "linux", "type": "kwok"},
	}}
	if _, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return err
	}
	// Ready, and the controller has lifted the not-ready taint that
	// admission puts on every new Node.
	return c.waitForNode(ctx, NodeName, 60*time.Second, func(n *corev1.Node) bool { return len(n.Spec.Taints) == 0 })
}

// waitForDefaultServiceAccount proves kube-controller-manager is working.
func (c *Cluster) waitForDefaultServiceAccount(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("kube-controller-manager did not create the default ServiceAccount; see %s", c.Dir)
}

// Stop ends every component and removes the cluster's files.
func (c *Cluster) Stop() {
	if c.node != nil {
		c.node.stop()
	}
	for i := len(c.procs) - 1; i >= 0; i-- {
		stopProcess(c.procs[i])
	}
	if c.env != nil {
		_ = c.env.Stop()
	}
	if os.Getenv("ENVGEN_KEEP_CLUSTER_LOGS") == "" {
		os.RemoveAll(c.Dir)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
