package testcluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RestartAPIServer kills the cluster's kube-apiserver (SIGKILL: no
// graceful shutdown, every connection reset), keeps it down for down, and
// starts it again with the same command line — same port, certificates
// and etcd — then waits until it is ready. Clients see what they see when
// a real API server crashes and comes back: refused connections, then a
// server whose watch cache was rebuilt.
func (c *Cluster) RestartAPIServer(ctx context.Context, down time.Duration) error {
	pid, args, err := c.findAPIServer()
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing kube-apiserver %d: %w", pid, err)
	}
	for deadline := time.Now().Add(10 * time.Second); processAlive(pid); {
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-apiserver %d still running after SIGKILL", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(down)
	logFile, err := os.OpenFile(filepath.Join(c.Dir, "kube-apiserver-restarted.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting kube-apiserver again: %w", err)
	}
	logFile.Close()
	c.procs = append(c.procs, cmd)
	for {
		body, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready again: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// findAPIServer finds this cluster's kube-apiserver among the machine's
// processes by its certificate directory, and returns its command line.
func (c *Cluster) findAPIServer() (int, []string, error) {
	certDir := c.env.ControlPlane.APIServer.CertDir
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, nil, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
		if filepath.Base(args[0]) == "kube-apiserver" && strings.Contains(string(raw), certDir) {
			return pid, args, nil
		}
	}
	return 0, nil, fmt.Errorf("no kube-apiserver with certificates in %s", certDir)
}

func processAlive(pid int) bool {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// A killed child stays a zombie until its parent (envtest) reaps it.
	fields := strings.Fields(string(raw))
	return len(fields) > 2 && fields[2] != "Z"
}
