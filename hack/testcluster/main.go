// Command testcluster starts the e2e tests' control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler) with kwok's fake
// Node and a real node (kubelet + containerd, tainted so that only Pods
// tolerating envgen.test/real-node go there), for poking at by hand, and
// runs until interrupted.
//
//	make testcluster        # starts it in the background
//	export KUBECONFIG=.cache/testcluster/kubeconfig
//	make testcluster-down
//
// -nodes=kwok starts the fake node alone (no root or containerd needed).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
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
	nodes := flag.String("nodes", "kwok,real", "the nodes to start: kwok, real (containerd 1.6), evented (containerd 2 with EventedPLEG), or kwok with one of the others")
	flag.Parse()
	opts := testcluster.Options{KwokLog: filepath.Join(testcluster.RepoRoot(), "hack", "kwok", "build.log")}
	for _, n := range strings.Split(*nodes, ",") {
		switch n {
		case "kwok":
			opts.Kwok = true
		case "real":
			opts.RealNode = true
		case "evented":
			opts.RealNode, opts.EventedNode = true, true
		default:
			return fmt.Errorf("-nodes: unknown node %q (kwok, real, evented)", n)
		}
	}
	out := filepath.Join(testcluster.RepoRoot(), ".cache", "testcluster")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := testcluster.Start(ctx, opts)
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
	fmt.Printf("cluster ready (nodes: %s); components log to %s\n  export KUBECONFIG=%s\n  kubectl: %s\n", *nodes, c.Dir, kubeconfig, filepath.Join(c.Bin, "kubectl"))
	if c.Registry != "" {
		fmt.Printf("  images: %s/%s:%s (and %s:%s, the sandbox)\n", c.Registry, testcluster.BusyboxImage, testcluster.ImageTag, testcluster.PauseImage, testcluster.ImageTag)
	}
	<-ctx.Done()
	return nil
}
