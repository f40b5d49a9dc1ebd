package testcluster

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RealNodeName is the Node of the real kubelet. The API server reaches a
// kubelet (logs, exec) at the Node's hostname address first, and
// "localhost" is the one name that resolves here; the kubelet refuses a
// loopback --node-ip.
const RealNodeName = "localhost"

// RealNodeTaint keeps Pods off the real node when the cluster also has a
// kwok node, unless they tolerate it.
var RealNodeTaint = corev1.Taint{Key: "envgen.test/real-node", Value: "true", Effect: corev1.TaintEffectNoSchedule}

// The real node's runtime, from Debian's packages (hack/testbin.sh).
var realNodeNeeds = []string{"/usr/bin/containerd", "/usr/bin/ctr", "/usr/sbin/runc", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback", busyboxPath}

// RealNodeMissing says why a real node cannot start on this machine, or ""
// if it can.
func RealNodeMissing() string {
	if os.Geteuid() != 0 {
		return "a real node needs root (containerd, runc, the CNI bridge)"
	}
	var missing []string
	for _, f := range realNodeNeeds {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return "missing " + strings.Join(missing, ", ") + " (make testbin installs containerd, runc, containernetworking-plugins and busybox-static)"
	}
	return ""
}

// Containerd2Dir is where, in the test binaries' directory, hack/testbin.sh
// puts containerd 2 and its runc shim.
const Containerd2Dir = "containerd2"

// realNode is containerd + runc + the CNI bridge + kubelet, each with its
// own directories under dir, its own socket and ports, and its own bridge.
type realNode struct {
	evented  bool // containerd 2 and EventedPLEG (Options.EventedNode)
	dir      string
	bridge   string // the CNI bridge interface, removed on stop
	socket   string // containerd's
	registry *imageRegistry
	procs    []*exec.Cmd
}

// startRealNode starts the registry, containerd and kubelet, and waits for
// the Node to be Ready.
func (c *Cluster) startRealNode(ctx context.Context, taint, evented bool) error {
	if why := RealNodeMissing(); why != "" {
		return fmt.Errorf("real node: %s", why)
	}
	id := make([]byte, 3)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	n := &realNode{evented: evented, dir: filepath.Join(c.Dir, "node"), bridge: "egt" + hex.EncodeToString(id)}
	c.node = n
	n.socket = filepath.Join(n.dir, "containerd.sock")
	for _, d := range []string{"root", "state", "net.d", "cni", "kubelet", "pod-logs"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
			return err
		}
	}
	reg, err := startRegistry()
	if err != nil {
		return err
	}
	n.registry = reg
	c.Registry = reg.host

	// A /24 of its own per cluster, so that two clusters on one machine
	// (a test run beside make testcluster) do not share addresses.
	subnet := fmt.Sprintf("10.245.%d.0/24", id[0])
	if err := n.writeContainerdConfig(subnet); err != nil {
		return err
	}
	containerd, env := "/usr/bin/containerd", []string(nil)
	if evented {
		// Its own runc shim first in PATH, where containerd looks for it.
		dir := filepath.Join(c.Bin, Containerd2Dir)
		containerd, env = filepath.Join(dir, "containerd"), []string{"PATH=" + dir + ":" + os.Getenv("PATH")}
		if _, err := os.Stat(containerd); err != nil {
			return fmt.Errorf("the evented node needs containerd 2: %w (hack/testbin.sh builds it)", err)
		}
	}
	if err := c.runInEnv(n, "containerd", env, containerd, "--config", filepath.Join(n.dir, "containerd.toml")); err != nil {
		return err
	}
	if err := waitForFile(ctx, n.socket, 30*time.Second); err != nil {
		return fmt.Errorf("containerd did not start: %w; see %s", err, filepath.Join(c.Dir, "containerd.log"))
	}
	kubeletConfig, err := n.writeKubeletConfig()
	if err != nil {
		return err
	}
	labels := "type=real"
	args := []string{"--config=" + kubeletConfig, "--root-dir=" + filepath.Join(n.dir, "kubelet"),
		"--hostname-override=" + RealNodeName, "--kubeconfig=" + c.Kubeconfig, "--node-labels=" + labels}
	if taint {
		args = append(args, "--register-with-taints="+RealNodeTaint.ToString())
	}
	if err := c.runIn(n, "kubelet", filepath.Join(c.Bin, "kubelet"), args...); err != nil {
		return err
	}
	return c.waitForNode(ctx, RealNodeName, 120*time.Second, func(node *corev1.Node) bool {
		for _, t := range node.Spec.Taints {
			if !t.MatchTaint(&RealNodeTaint) {
				return false // not-ready or uninitialized: wait
			}
		}
		return true
	})
}

func (n *realNode) writeContainerdConfig(subnet string) error {
	// restrict_oom_score_adj: this sandbox cannot lower oom_score_adj, and
	// without it every Pod sandbox fails "can't get final child's PID from
	// pipe: EOF". netns_mounts_under_state_dir: the Pods' network
	// namespaces live under our directory, where stop finds them.
	registry := fmt.Sprintf(`  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."%s"]
    endpoint = ["http://%s"]
`, n.registry.host, n.registry.host)
	if n.evented {
		// containerd 2 reads registries from hosts.toml files (mirrors are
		// deprecated, and turn its transfer service off).
		hosts := filepath.Join(n.dir, "certs.d")
		if err := os.MkdirAll(filepath.Join(hosts, n.registry.host), 0o755); err != nil {
			return err
		}
		toml := fmt.Sprintf("server = \"http://%s\"\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", n.registry.host, n.registry.host)
		if err := os.WriteFile(filepath.Join(hosts, n.registry.host, "hosts.toml"), []byte(toml), 0o644); err != nil {
			return err
		}
		registry = fmt.Sprintf("  [plugins.\"io.containerd.grpc.v1.cri\".registry]\n    config_path = %q\n", hosts)
	}
	config := fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "%s/%s:%s"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
%s`, filepath.Join(n.dir, "root"), filepath.Join(n.dir, "state"), n.socket,
		n.registry.host, PauseImage, ImageTag, filepath.Join(n.dir, "net.d"), registry)
	if err := os.WriteFile(filepath.Join(n.dir, "containerd.toml"), []byte(config), 0o644); err != nil {
		return err
	}
	// No IP masquerade: nothing leaves this machine, and no iptables rule
	// is left to clean up.
	cni := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "envgen-test",
  "plugins": [{
    "type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "dataDir": %q}
  }]
}
`, n.bridge, subnet, filepath.Join(n.dir, "cni"))
	return os.WriteFile(filepath.Join(n.dir, "net.d", "10-envgen-test.conflist"), []byte(cni), 0o644)
}

func (n *realNode) writeKubeletConfig() (string, error) {
	port, err := freePort()
	if err != nil {
		return "", err
	}
	healthz, err := freePort()
	if err != nil {
		return "", err
	}
	// cgroup v1 and cgroupfs: this machine's. No eviction thresholds: a
	// full disk in a test machine must not taint the node. Volumes are
	// measured every 10 s (not every minute), so that a Pod past its
	// emptyDir's sizeLimit is evicted within a test's patience. Anonymous
	// AlwaysAllow: a test cluster only, on 127.0.0.1.
	config := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
evictionHard: {memory.available: "0%%", nodefs.available: "0%%", nodefs.inodesFree: "0%%", imagefs.available: "0%%"}
imageGCHighThresholdPercent: 100
containerRuntimeEndpoint: unix://%s
podLogsDir: %s
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
address: 127.0.0.1
port: %d
healthzBindAddress: 127.0.0.1
healthzPort: %d
readOnlyPort: 0
serializeImagePulls: false
volumeStatsAggPeriod: 10s
`, n.socket, filepath.Join(n.dir, "pod-logs"), port, healthz)
	if n.evented {
		config += "featureGates: {EventedPLEG: true}\n"
	}
	path := filepath.Join(n.dir, "kubelet.yaml")
	return path, os.WriteFile(path, []byte(config), 0o644)
}

// stop ends the kubelet, then every container it left running, then
// containerd and its shims; unmounts what they mounted under the node's
// directory (rootfs, shm, network namespaces, whose veths go with them) and
// removes the bridge. Nothing of the node survives it: TestRealNodeStop
// checks processes, mounts and interfaces.
func (n *realNode) stop() {
	for _, p := range n.procs {
		if filepath.Base(p.Path) == "kubelet" {
			stopProcess(p)
		}
	}
	n.killContainers()
	for _, p := range n.procs {
		if filepath.Base(p.Path) == "containerd" {
			stopProcess(p)
		}
	}
	for _, pid := range processesMentioning(n.dir) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	waitGone(processesMentioning, n.dir, 5*time.Second)
	unmountUnder(n.dir)
	if n.bridge != "" {
		_ = exec.Command("ip", "link", "delete", n.bridge).Run()
	}
	if n.registry != nil {
		n.registry.stop()
	}
}

// Leftovers lists what a stopped cluster's real node left on the machine:
// processes, mounts, its network interface. Empty is the only good answer.
func (c *Cluster) Leftovers() []string {
	n := c.node
	if n == nil {
		return nil
	}
	var left []string
	for _, pid := range processesMentioning(n.dir) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		left = append(left, fmt.Sprintf("process %d: %s", pid, strings.ReplaceAll(string(cmdline), "\x00", " ")))
	}
	for _, m := range mountsUnder(n.dir) {
		left = append(left, "mount "+m)
	}
	if _, err := os.Stat(filepath.Join("/sys/class/net", n.bridge)); err == nil {
		left = append(left, "network interface "+n.bridge)
	}
	return left
}

// killContainers kills every task containerd runs for Kubernetes (the
// kubelet, stopped, no longer does).
func (n *realNode) killContainers() {
	ctr := func(args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return exec.CommandContext(ctx, "/usr/bin/ctr", append([]string{"--address", n.socket, "--namespace", "k8s.io"}, args...)...).Output()
	}
	out, err := ctr("tasks", "list", "--quiet")
	if err != nil {
		return
	}
	for _, id := range strings.Fields(string(out)) {
		_, _ = ctr("tasks", "kill", "--all", "--signal", "SIGKILL", id)
	}
	for _, id := range strings.Fields(string(out)) {
		_, _ = ctr("tasks", "delete", "--force", id)
	}
}

// processesMentioning lists the processes whose command line names path:
// containerd's shims carry its socket's address.
func processesMentioning(path string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), path) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var points []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		// Octal escapes (\040 for a space) do not occur in our paths.
		if p := fields[4]; p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	return points
}

func unmountUnder(dir string) {
	for i := 0; i < 3; i++ {
		points := mountsUnder(dir)
		if len(points) == 0 {
			return
		}
		for _, p := range points {
			if err := syscall.Unmount(p, 0); err != nil {
				_ = syscall.Unmount(p, syscall.MNT_DETACH)
			}
		}
	}
}

func waitGone(list func(string) []int, dir string, within time.Duration) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) && len(list(dir)) > 0 {
		time.Sleep(50 * time.Millisecond)
	}
}

func waitForFile(ctx context.Context, path string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not there after %s", path, within)
}

// waitForNode waits until the Node is Ready and settled says its taints
// are as expected.
func (c *Cluster) waitForNode(ctx context.Context, name string, within time.Duration, settled func(*corev1.Node) bool) error {
	deadline := time.Now().Add(within)
	var last *corev1.Node
	for time.Now().Before(deadline) {
		n, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			last = n
			if settled(n) {
				for _, cond := range n.Status.Conditions {
					if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
						return nil
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if last == nil {
		return fmt.Errorf("node %s not registered after %s; see %s", name, within, c.Dir)
	}
	return fmt.Errorf("node %s not Ready after %s (taints %v, conditions %v); see %s", name, within, last.Spec.Taints, last.Status.Conditions, c.Dir)
}

// stopProcess interrupts p and kills it after 5 s.
func stopProcess(p *exec.Cmd) {
	if p.Process == nil || p.ProcessState != nil {
		return
	}
	_ = p.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.Process.Kill()
		<-done
	}
}

// FreezeKubelet stops the real node's kubelet (SIGSTOP), as a hung or
// partitioned kubelet is: its containers run on, nothing reports on them,
// and the node's lease runs out, so kube-controller-manager calls the node
// Unknown. thaw continues the kubelet and waits for the node to be Ready
// and untainted again, for the tests that follow; it may be called twice.
func (c *Cluster) FreezeKubelet() (thaw func() error, err error) {
	var kubelet *os.Process
	if c.node != nil {
		for _, p := range c.node.procs {
			if filepath.Base(p.Path) == "kubelet" {
				kubelet = p.Process
			}
		}
	}
	if kubelet == nil {
		return nil, fmt.Errorf("no real node's kubelet to freeze")
	}
	if err := kubelet.Signal(syscall.SIGSTOP); err != nil {
		return nil, err
	}
	var once sync.Once
	return func() error {
		once.Do(func() { err = kubelet.Signal(syscall.SIGCONT) })
		if err != nil {
			return err
		}
		return c.waitForNode(context.Background(), RealNodeName, 120*time.Second, func(node *corev1.Node) bool {
			for _, t := range node.Spec.Taints {
				if !t.MatchTaint(&RealNodeTaint) {
					return false // unreachable or not-ready: wait
				}
			}
			return true
		})
	}, nil
}
