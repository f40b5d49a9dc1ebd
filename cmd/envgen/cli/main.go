// Package cli is envgen's command line: one file per command, each built by
// a newXxxCmd function with its own options. Commands write only to the
// cobra command's writers and return errors; Main prints an error once and
// maps its kind to the exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/termsafe"
	"envgen.dev/envgen/internal/version"
	"envgen.dev/envgen/overlays"
)

// Exit codes of envgen's commands other than run (see run.go for its own).
const (
	ExitOK      = 0
	ExitInvalid = 1 // invalid envgen.cue, unknown environment, stale tree
	ExitUsage   = 2 // wrong flags or arguments
	ExitIO      = 3 // a file could not be read or written
)

// Main runs envgen with os.Args and returns the process exit code. cluster
// gives the cluster commands where this binary links them (envgen-cluster);
// nil hands them over to envgen-cluster (see cluster.go).
//
// The commands that evaluate envgen.cue do so in a child process, which
// package evaluator starts and supervises before main (see there).
func Main(cluster ClusterCommands) int {
	args, root := os.Args[1:], newRootCmd(cluster)
	// Before the profiler and the signal handlers: neither may outlive
	// the exec (a profiling timer would kill envgen-cluster).
	var handover error
	if cluster == nil {
		if name, ok := delegated(root, args); ok {
			handover = handOver(name, args)
		}
	} else {
		handover = checkHandedOver(args)
	}
	if handover != nil {
		return report(os.Stderr, handover)
	}
	stopProfile := profile()
	defer stopProfile()
	ctx, stop := signalContext()
	defer stop()
	return run(ctx, root, args, os.Stdout, os.Stderr)
}

// Run runs envgen with args; it is Main without the process around it.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, cluster ClusterCommands) int {
	return run(ctx, newRootCmd(cluster), args, stdout, stderr)
}

func run(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := execute(ctx, root, args)
	if err == nil {
		return ExitOK
	}
	return report(stderr, err)
}

// report prints a command's error once and returns its exit code.
func report(stderr io.Writer, err error) int {
	if strings.HasPrefix(err.Error(), "unknown command ") {
		// cobra's own error for `envgen genrate`, suggestions included: a
		// usage error like any other.
		err = &usageError{command: "envgen", err: errors.New(strings.TrimRight(err.Error(), "\n"))}
	}
	// An error can carry what a build or a cluster said (a Pod's status, a
	// container's termination message): never a terminal's control
	// sequence.
	fmt.Fprintf(stderr, "envgen: %s\n", termsafe.Lines(err.Error()))
	var usage *usageError
	if errors.As(err, &usage) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", usage.command)
	}
	return ExitCode(err)
}

// execute runs the command. Commands that only evaluate envgen.cue and
// write files end at once on SIGINT/SIGTERM (exit 130/143: generate has
// written nothing, its tree is replaced in one atomic step at the end) and
// when they run past their budget (exit 1); run and gc clean up first.
func execute(ctx context.Context, root *cobra.Command, args []string) error {
	cmd, _, _ := root.Find(args)
	if cmd != nil && clusterCommands[cmd.Name()] {
		return root.ExecuteContext(ctx)
	}
	b, err := budgetFrom(args)
	if err != nil {
		return &usageError{command: "envgen", err: err}
	}
	done := make(chan error, 1)
	ctx = context.WithValue(ctx, budgetKey{}, b)
	word := &lastWord{}
	ctx = context.WithValue(ctx, lastWordKey{}, word)
	go func() { done <- root.ExecuteContext(ctx) }()
	exceeded, stop := b.watch(ctx)
	defer stop()
	select {
	case err := <-done:
		return err
	case err := <-exceeded:
		scratch.removeAll() // the command's own cleanup will not run
		var spent *budgetError
		if errors.As(err, &spent) {
			word.spent(err)
		}
		return err
	}
}

// ExitCode is the exit code of a command's error: the kinds of failure
// listed in envgen --help, or the code the command chose (Exit).
func ExitCode(err error) int {
	var (
		usage   *usageError
		input   *compiler.InputError
		unknown *compiler.UnknownEnvironmentError
		file    *compiler.FileError
		stale   *staleError
		finding *findingsError
		coded   *exitError
		differ  *overlays.MismatchError
		foreign *overlays.ForeignFilesError
		large   *overlays.TreeTooLargeError
		clash   *overlays.FileClashError
		sig     *SignalError
		spent   *budgetError
	)
	switch {
	case errors.As(err, &sig):
		return 128 + int(sig.Signal)
	case errors.As(err, &spent):
		return ExitInvalid
	case errors.As(err, &usage):
		// Wrong usage found late, where a cluster command maps its
		// errors to 125 (--as-group without --as), is still usage.
		return ExitUsage
	case errors.As(err, &coded):
		return coded.code
	case errors.As(err, &input), errors.As(err, &unknown), errors.As(err, &stale), errors.As(err, &finding), errors.As(err, &differ), errors.As(err, &foreign), errors.As(err, &large), errors.As(err, &clash):
		return ExitInvalid
	case errors.As(err, &file) && errors.Is(err, os.ErrNotExist):
		return ExitInvalid
	}
	return ExitIO
}

// SignalError is the cause of the root context's cancellation when envgen
// got SIGINT or SIGTERM; run exits 128+signal after cleaning up.
type SignalError struct{ Signal syscall.Signal }

func (e *SignalError) Error() string { return "interrupted by " + e.Signal.String() }

// signalContext is canceled on the first SIGINT or SIGTERM, with the signal
// as its cause, so that every wait ends and cleanup runs. A second signal
// gets the default treatment: it ends envgen at once.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		if s, ok := <-signals; ok {
			signal.Stop(signals)
			cancel(&SignalError{Signal: s.(syscall.Signal)})
		}
	}()
	return ctx, func() {
		signal.Stop(signals)
		cancel(nil)
	}
}

// usageError is a mistake in how envgen was called.
type usageError struct {
	command string
	err     error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// Usage is err as a mistake in how command (say "envgen run") was called:
// exit 2, and a pointer to its --help.
func Usage(command string, err error) error { return &usageError{command: command, err: err} }

// exitError carries an exit code chosen by a command (envgen run passes
// the build's own).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Exit is err with the exit code a command chose for it.
func Exit(code int, err error) error { return &exitError{code: code, err: err} }

func newRootCmd(cluster ClusterCommands) *cobra.Command {
	root := &cobra.Command{
		Use:   "envgen",
		Short: "Compile one envgen.cue into the Kubernetes manifests of every environment",
		Long: `envgen compiles a service's envgen.cue — what the service is, once, and per
environment only what differs — into Kubernetes manifests.

  envgen init              write a first envgen.cue for a service, one that passes vet
  envgen generate          write the kustomize tree deploy/ (base + overlays)
  envgen generate --check  exit 1 with a diff when deploy/ is stale (CI gate)
  envgen build --env ci    print one environment's manifests
  envgen schema            print the schema of envgen.cue
  envgen vet               check envgen.cue against envgen's policies
  envgen explain           where a generated field comes from in envgen.cue
  envgen diff --from REV   what a change does to every environment
  envgen image             build the service's image with BuildKit, print its digest
  envgen promote           pin an image that was built and tested, by digest (envgen.lock.cue)
  envgen lock              pin the tags staging and production use to their digests
  envgen run               build the image, then run the ci build on a cluster
  envgen gc                delete expired build namespaces
  envgen rbac              print the RBAC that run and gc need
  envgen buildkit          print the BuildKit daemon envgen builds images on
  envgen version           which envgen this is (release and commit)
  envgen install DIR       copy envgen into DIR (from envgen's image, for an agent)

Exit codes: 0 ok, 1 invalid envgen.cue / unknown environment / stale tree,
2 wrong usage, 3 a file could not be read or written. envgen run has its own
(see envgen run --help).`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	// envgen --version, as most command-line tools answer it: the same
	// line as `envgen version`.
	v := version.Get()
	root.Version = v.Release
	root.SetVersionTemplate(versionLine(v) + "\n")
	root.SetFlagErrorFunc(flagError)
	addBudgetFlags(root)
	root.AddCommand(newInitCmd(), newInstallCmd(), newGenerateCmd(), newBuildCmd(), newSchemaCmd(), newDiffCmd(), newVetCmd(), newExplainCmd(), newVersionCmd())
	if cluster != nil {
		root.AddCommand(cluster()...)
	} else {
		root.AddCommand(delegates()...)
	}
	addCompletions(root)
	return root
}

func flagError(cmd *cobra.Command, err error) error {
	return &usageError{command: cmd.CommandPath(), err: err}
}

// Args wraps a cobra argument check so that its failure is a usage error.
func Args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return &usageError{command: cmd.CommandPath(), err: err}
		}
		if _, pattern := patternRoot(a[len(a)-min(len(a), 1):]); pattern && !takesPattern[cmd.Name()] {
			return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("%s takes one service's directory, not %s (vet, build and generate take dir/...)", cmd.CommandPath(), a[len(a)-1])}
		}
		return nil
	}
}

// takesPattern are the commands that run over every service under a
// directory (dir/...).
var takesPattern = map[string]bool{"vet": true, "build": true, "generate": true}

// Root is envgen's command tree, for tests that read its documentation.
func Root(cluster ClusterCommands) *cobra.Command { return newRootCmd(cluster) }
