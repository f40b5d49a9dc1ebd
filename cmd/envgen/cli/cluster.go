package cli

// The commands that reach a cluster, a registry or BuildKit live in package
// clustercli, linked only into a second binary, envgen-cluster. They bring
// client-go, BuildKit's client, gRPC and a registry client, and Go runs
// the initialisation of every linked package before main, whatever the
// command: with them, `envgen version` started in twice the time, and so
// did both processes of every build (the evaluation runs in a child, see
// evaluator.go). envgen lists those commands in its help like its own and
// hands them over, arguments untouched, by exec'ing envgen-cluster from
// beside its own executable (never from $PATH, which a checkout's scripts
// may have set).

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
)

// ClusterBinary is the file name of the binary that runs the cluster
// commands; it is installed beside envgen.
const ClusterBinary = "envgen-cluster"

// ClusterCommands returns the cluster commands, built, for a binary that
// links them (envgen-cluster; tests). Without them, Root adds delegates.
type ClusterCommands func() []*cobra.Command

// clusterCommandHelp names each cluster command with the one line envgen's
// help shows for it; a test holds it to clustercli's own commands. broken
// is its exit code when envgen-cluster is missing: run, image, gc and
// promote say "the cluster or envgen failed" with 125, so that it is never
// taken for the build's own exit code.
var clusterCommandHelp = []struct {
	name, short string
	broken      int
}{
	{"run", "Run the ci environment's build on a cluster and exit with its exit code", 125},
	{"image", "Build the service's image with BuildKit, push it, and print it by digest", 125},
	{"promote", "Pin an image that was built and tested to environments, by digest, in envgen.lock.cue", 125},
	{"lock", "Pin every tag staging and production still use to its digest, in envgen.lock.cue", ExitIO},
	{"gc", "Delete expired build namespaces left by killed runs", 125},
	{"rbac", "Print the least privilege envgen run and gc need: RBAC and an admission guard", ExitIO},
	{"buildkit", "Print the BuildKit daemon (buildkitd) that envgen builds images on, for the platform team", ExitIO},
}

// delegatedAnnotation marks a command that envgen-cluster runs.
const delegatedAnnotation = "envgen.dev/delegated"

// delegates are the cluster commands as envgen without them shows them:
// a name and a line of help. Anything else they are asked, their --help
// included, envgen-cluster answers.
func delegates() []*cobra.Command {
	var cmds []*cobra.Command
	for _, c := range clusterCommandHelp {
		cmds = append(cmds, &cobra.Command{
			Use:                c.name,
			Short:              c.short,
			Annotations:        map[string]string{delegatedAnnotation: "true"},
			DisableFlagParsing: true,
			// Never run: execute hands these over before cobra parses.
			RunE: func(*cobra.Command, []string) error { return errors.New("not handed over") },
		})
	}
	return cmds
}

// delegated reports whether args name a command envgen-cluster runs,
// directly or through `help run` or shell completion's `__complete run`.
func delegated(root *cobra.Command, args []string) (string, bool) {
	if len(args) > 1 {
		switch args[0] {
		case "help", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
			args = args[1:]
		}
	}
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil || cmd.Annotations[delegatedAnnotation] == "" {
		return "", false
	}
	return cmd.Name(), true
}

// handOver replaces this process with envgen-cluster, given the same
// arguments and environment; signals, standard streams and the exit code
// are then envgen-cluster's own. It returns only when that failed.
func handOver(name string, args []string) error {
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		return Exit(brokenExit(name), fmt.Errorf("envgen %s: finding %s: %w", name, ClusterBinary, err))
	}
	helper := filepath.Join(filepath.Dir(self), ClusterBinary)
	err = syscall.Exec(helper, append([]string{helper}, args...), os.Environ())
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("envgen %s runs in %s, which is not installed beside envgen (%s): install both (make install, or envgen-cluster install DIR)", name, ClusterBinary, helper)
	}
	return Exit(brokenExit(name), err)
}

func brokenExit(name string) int {
	for _, c := range clusterCommandHelp {
		if c.name == name {
			return c.broken
		}
	}
	return ExitIO
}
