package cli

// The commands that reach a cluster, a registry or BuildKit live in package
// clustercli, linked only into a second binary, envgen-cluster. They bring
// client-go, BuildKit's client, gRPC and a registry client, and Go runs
// the initialisation of every linked package before main, whatever the
// command: with them, `envgen version` started in twice the time, and so
// did both processes of every build (the evaluation runs in a child, see
// package evaluator). envgen lists those commands in its help like its own and
// hands them over, arguments untouched, by exec'ing envgen-cluster from
// beside its own executable (never from $PATH, which a checkout's scripts
// may have set).

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/cmd/envgen/internal/evaluator"
	"envgen.dev/envgen/internal/version"
)

// ClusterBinary is the file name of the binary that runs the cluster
// commands; it is installed beside envgen.
const ClusterBinary = "envgen-cluster"

// ClusterCommands returns the cluster commands, built, for a binary that
// links them (envgen-cluster; tests). Without them, Root adds delegates.
type ClusterCommands func() []*cobra.Command

// ExitCluster is the exit code of run, image, gc and promote when envgen or
// the cluster failed (clustercli): also theirs when envgen-cluster cannot
// be started, so that it is never taken for a build's own exit code.
const ExitCluster = 125

// clusterCommandHelp names each cluster command with the one line envgen's
// help shows for it; a test holds it to clustercli's own commands. broken
// is its exit code when envgen-cluster cannot be started.
var clusterCommandHelp = []struct {
	name, short string
	broken      int
}{
	{"run", "Run the ci environment's build on a cluster and exit with its exit code", ExitCluster},
	{"image", "Build the service's image with BuildKit, push it, and print it by digest", ExitCluster},
	{"promote", "Pin an image that was built and tested to environments, by digest, in envgen.lock.cue", ExitCluster},
	{"lock", "Pin every tag staging and production still use to its digest, in envgen.lock.cue", ExitIO},
	{"gc", "Delete expired build namespaces left by killed runs", ExitCluster},
	{"rbac", "Print the least privilege envgen run and gc need: RBAC and an admission guard", ExitIO},
	{"buildkit", "Print the BuildKit daemon (buildkitd) that envgen builds images on, for the platform team", ExitIO},
}

// delegatedAnnotation marks a command that envgen-cluster runs.
const delegatedAnnotation = "envgen.dev/delegated"

// delegates are the cluster commands as envgen without them shows them:
// a name and a line of help. Anything else they are asked, their --help
// included, envgen-cluster answers (Main hands them over before cobra
// runs).
func delegates() []*cobra.Command {
	var cmds []*cobra.Command
	for _, c := range clusterCommandHelp {
		cmds = append(cmds, &cobra.Command{
			Use:                c.name,
			Short:              c.short,
			Annotations:        map[string]string{delegatedAnnotation: "true"},
			DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return Exit(brokenExit(cmd.Name()), fmt.Errorf("envgen %s runs in %s, and this envgen was run in process (cli.Run), where it cannot hand it over", cmd.Name(), ClusterBinary))
			},
		})
	}
	return cmds
}

// delegated names the cluster command args ask for, directly or through
// `help run` or shell completion's `__complete run`, past root flags.
func delegated(root *cobra.Command, args []string) (string, bool) {
	if i := evaluator.FirstWord(args); i < len(args) {
		switch args[i] {
		case "help", cobra.ShellCompRequestCmd, cobra.ShellCompNoDescRequestCmd:
			args = args[i+1:]
		}
	}
	// "--" ends the flags; cobra's Find would stop at it (help -- run).
	words := slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "--" })
	cmd, _, err := root.Find(words)
	if err != nil || cmd == nil || cmd.Annotations[delegatedAnnotation] == "" {
		return "", false
	}
	return cmd.Name(), true
}

// handedOverEnv carries, from envgen to envgen-cluster, the version of the
// envgen that handed a command over: envgen-cluster refuses to run it for
// another (a stale envgen-cluster left beside a new envgen), and envgen
// refuses it back (an envgen-cluster that is a copy of envgen would hand
// it over to itself forever).
const handedOverEnv = "ENVGEN_HANDED_OVER_BY"

// handOver replaces this process with envgen-cluster, given the same
// arguments and environment; signals, standard streams and the exit code
// are then envgen-cluster's own. It returns only when that failed.
func handOver(name string, args []string) error {
	if by, ok := os.LookupEnv(handedOverEnv); ok {
		return Exit(brokenExit(name), fmt.Errorf("envgen %s was handed back to envgen by %s (%s): that %s is not envgen-cluster; install both from one build (make install)", name, ClusterBinary, by, ClusterBinary))
	}
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		return Exit(brokenExit(name), fmt.Errorf("envgen %s: finding %s: %w", name, ClusterBinary, err))
	}
	helper := filepath.Join(filepath.Dir(self), ClusterBinary)
	env := append(os.Environ(), handedOverEnv+"="+versionLine(version.Get()))
	err = syscall.Exec(helper, append([]string{helper}, args...), env)
	if errors.Is(err, fs.ErrNotExist) {
		return Exit(brokenExit(name), fmt.Errorf("envgen %s runs in %s, which is not installed beside envgen (%s): install both (make install, or envgen-cluster install DIR)", name, ClusterBinary, helper))
	}
	return Exit(brokenExit(name), fmt.Errorf("envgen %s runs in %s, which could not be started (%s): %w", name, ClusterBinary, helper, err))
}

// checkHandedOver refuses, in envgen-cluster, a command handed over by an
// envgen of another build.
func checkHandedOver(args []string) error {
	by, ok := os.LookupEnv(handedOverEnv)
	if !ok {
		return nil
	}
	os.Unsetenv(handedOverEnv) // not passed on to what the command starts
	if own := versionLine(version.Get()); by != own {
		name := "command"
		if i := evaluator.FirstWord(args); i < len(args) {
			name = args[i]
		}
		return Exit(brokenExit(name), fmt.Errorf("%s is %s, and the envgen that handed it %s is %s: install both from one build (make install)", ClusterBinary, own, name, by))
	}
	return nil
}

func brokenExit(name string) int {
	for _, c := range clusterCommandHelp {
		if c.name == name {
			return c.broken
		}
	}
	return ExitIO
}
