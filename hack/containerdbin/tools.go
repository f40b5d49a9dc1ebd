// The real node's second configuration runs containerd 2 (containerd, its
// runc shim and ctr), built from this module by hack/testbin.sh: Debian
// ships 1.6.

//go:build tools

package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
