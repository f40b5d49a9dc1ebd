// Command testcluster starts the e2e tests' control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, kwok and its
// fake Node) for poking at by hand, and runs until interrupted.
//
//	make testcluster        # starts it in the background
//	export KUBECONFIG=.cache/testcluster/kubeconfig
//	make testcluster-down
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"envgen.dev/envgen/internal/testcluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testcluster:", err)
		os.Exit(1)
	}
}

func run() error {
	out := filepath.Join(testcluster.RepoRoot(), ".cache", "testcluster")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := testcluster.Start(ctx, filepath.Join(testcluster.RepoRoot(), "hack", "kwok", "build.log"))
	if err != nil {
		return err
	}
	defer c.Stop()
	kubeconfig := filepath.Join(out, "kubeconfig")
	data, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		return err
	}
	if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		return err
	}
	defer os.Remove(kubeconfig)
	fmt.Printf("cluster ready; components log to %s\n  export KUBECONFIG=%s\n  kubectl: %s\n", c.Dir, kubeconfig, filepath.Join(c.Bin, "kubectl"))
	<-ctx.Done()
	return nil
}
