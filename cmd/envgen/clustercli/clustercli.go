// Package clustercli holds envgen's commands that reach a cluster, a
// registry or BuildKit: run, image, promote, lock, gc, and rbac and
// buildkit, which print what the cluster needs. It is linked only into
// envgen-cluster, with every other command, so that envgen's own binary
// does without client-go, BuildKit's client and a registry client (see
// cli/cluster.go); envgen hands these commands over to it.
package clustercli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/cmd/envgen/cli"
)

// Commands are the cluster commands, built.
func Commands() []*cobra.Command {
	return []*cobra.Command{newRunCmd(), newImageCmd(), newPromoteCmd(), newLockCmd(), newGCCmd(), newRBACCmd(), newBuildkitCmd()}
}

// Main runs envgen-cluster with os.Args: every command of envgen, the
// cluster commands included.
func Main() int { return cli.Main(Commands) }

// Run is Main without the process around it.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Run(ctx, args, stdout, stderr, Commands)
}

// Root is the whole command tree, for tests that read its documentation.
func Root() *cobra.Command { return cli.Root(Commands) }
