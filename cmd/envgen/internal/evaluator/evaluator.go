// Package evaluator runs the evaluation of envgen.cue in a child process
// whose address space is bounded, and supervises it.
//
// It does so from its package initialisation. Go runs a binary's package
// initialisations in the order the language defines (a package's imports
// first; among packages ready, by import path), and this package imports
// the standard library alone and sorts early: the supervising parent
// starts its child before CUE's evaluator, kustomize and Kubernetes' API
// types have initialised — work the parent would only throw away (about a
// tenth of a small build's time). What the parent still initialises is
// the standard library and a few small packages that sort before it;
// TestSupervisorStartsBeforeTheCompilerInitialises in cmd/envgen reads
// the parent's inittrace and fails when the compiler's packages come
// first. Binaries that run envgen's commands import it through package
// cli.
package evaluator

// The evaluation of envgen.cue runs in a child process whose address space
// is bounded. CUE can ask for one allocation of any size in a line
// (("a" * 999999) * 100000 is 100 GB), and the Go runtime cannot refuse
// an allocation gracefully: where the kernel will not map it (the usual
// heuristic overcommit, a container's limit) the process dies with the
// runtime's "fatal error: out of memory" and its goroutine dump, exit 2
// — what envgen means by wrong usage — before --max-memory's watcher
// sees anything. In a child under RLIMIT_AS the allocation fails the same
// way on every machine, at once, and the parent, which evaluates nothing,
// says so in one line and exits 1.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func init() {
	if code, supervised := superviseEvaluation(os.Args); supervised {
		os.Exit(code)
	}
}

// The exit codes the parent gives for itself: envgen's (package cli).
const (
	exitInvalid = 1 // the evaluation asked for more memory than allowed
	exitIO      = 3 // the child could not be started
)

// The compile budget: envgen evaluates CUE from pull requests, and CUE can
// be made to compute for a long time in a few lines. A command that is
// not done within its budget ends with exit 1; so does one whose heap
// grows past its memory budget (package cli watches both in the child).
const (
	DefaultMaxTime   = 60 * time.Second
	DefaultMaxMemory = 1 << 30
)

// evaluatorEnv, set in the child, holds its address-space limit in bytes.
const evaluatorEnv = "ENVGEN_EVALUATOR_ADDRESS_SPACE"

// evaluatingCommands read and evaluate an envgen.cue, from a pull request
// maybe, and stop at --max-memory.
var evaluatingCommands = map[string]bool{"build": true, "generate": true, "vet": true, "explain": true, "diff": true}

// addressSpace is the child's limit for a heap budget: the Go runtime
// reserves about 1.3 GiB of address space before envgen allocates
// anything (1.8 GiB with a 500 MiB heap), so four times the budget and
// 2 GiB more leave a legitimate evaluation room, and refuse a single
// allocation that no budget allows.
func addressSpace(maxMemory uint64) uint64 { return 4*maxMemory + 2<<30 }

// superviseEvaluation runs an evaluating command in a child under
// RLIMIT_AS, returning its exit code; supervised is false when this
// process is to run the command itself (the child, or another command).
func superviseEvaluation(args []string) (code int, supervised bool) {
	if limit, child := os.LookupEnv(evaluatorEnv); child {
		// Not passed on as a marker; the limit itself is, to what the
		// child starts (git, for diff --from): 6 GiB by default, room enough.
		os.Unsetenv(evaluatorEnv)
		if n, err := strconv.ParseUint(limit, 10, 64); err == nil {
			_ = syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: n, Max: n})
		}
		return 0, false
	}
	if !evaluatingCommands[commandName(args[1:])] || strings.HasSuffix(args[0], ".test") {
		// A Go test binary (pkg.test) runs tests, whatever its flags'
		// values say.
		return 0, false
	}
	_, maxMemory, err := Budget(args[1:])
	if err != nil {
		return 0, false // the command itself says what is wrong
	}
	return runEvaluator(args, addressSpace(maxMemory), maxMemory), true
}

// commandName is the name of the command args ask for, "" if none.
func commandName(args []string) string {
	if i := FirstWord(args); i < len(args) {
		return args[i]
	}
	return ""
}

// FirstWord is the index in envgen's arguments of the first that is
// neither a flag nor the value of a root flag given apart (--max-time 5s):
// the command's name; len(args) if there is none.
func FirstWord(args []string) int {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--max-time" || a == "--max-memory":
			i++
		case strings.HasPrefix(a, "-"):
		default:
			return i
		}
	}
	return len(args)
}

// runEvaluator runs this binary again with args in the child, its stdin
// and stdout shared, its stderr passed through line by line until the Go
// runtime says it ran out of memory (the rest, a goroutine dump, is
// dropped). SIGINT, SIGTERM and SIGHUP are passed on once: the child is in
// a process group of its own, so a terminal's Ctrl-C reaches it only so.
func runEvaluator(args []string, limit, maxMemory uint64) int {
	// os.StartProcess, not os/exec: os/exec imports path/filepath, which
	// Go would initialise only after most other packages.
	stderrRead, stderrWrite, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(os.Stderr, "envgen: starting the evaluation: %v\n", err)
		return exitIO
	}
	// Killed with the parent (kill -9 of a CI step): a child of its own
	// process group would otherwise evaluate on, and write, alone. The
	// signal is tied to the thread that started the child: it must not
	// end before the child does.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	child, err := os.StartProcess("/proc/self/exe", args, &os.ProcAttr{ // argv[0] as given: a test binary dispatches on it
		Env:   append(os.Environ(), fmt.Sprintf("%s=%d", evaluatorEnv, limit)),
		Files: []*os.File{os.Stdin, os.Stdout, stderrWrite},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	stderrWrite.Close()
	if err != nil {
		stderrRead.Close()
		fmt.Fprintf(os.Stderr, "envgen: starting the evaluation: %v\n", err)
		return exitIO
	}
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(signals)
	go func() {
		for s := range signals {
			_ = child.Signal(s)
		}
	}()
	outOfMemory, held := passStderr(stderrRead, os.Stderr)
	stderrRead.Close()
	state, err := child.Wait()
	if err != nil {
		fmt.Fprintf(os.Stderr, "envgen: the evaluation: %v\n", err)
		return exitIO
	}
	// The runtime's own death: its message at a line's start and exit 2.
	// Text the child printed that looks like it (a field named so) is not.
	runtimeDied := state.ExitCode() == 2
	if outOfMemory && !runtimeDied {
		for _, line := range held {
			os.Stderr.Write(line)
		}
	}
	switch status, _ := state.Sys().(syscall.WaitStatus); {
	case outOfMemory && runtimeDied:
		fmt.Fprintf(os.Stderr, "envgen: evaluating envgen.cue asked for more memory in one piece than --max-memory %d MiB allows; the input asks for too much\n", maxMemory>>20)
		return exitInvalid
	case status.Signaled():
		return 128 + int(status.Signal())
	}
	return state.ExitCode()
}

// passStderr copies the child's stderr to w until a line starts as the Go
// runtime's report of a failed allocation; it holds back what follows (a
// goroutine dump, at most 64 lines kept) and says whether it saw one.
func passStderr(r io.Reader, w io.Writer) (outOfMemory bool, held [][]byte) {
	br := bufio.NewReader(r)
	atLineStart := true
	for {
		line, err := br.ReadSlice('\n')
		if atLineStart && !outOfMemory && (bytes.HasPrefix(line, []byte("runtime: out of memory")) || bytes.HasPrefix(line, []byte("fatal error: out of memory"))) {
			outOfMemory = true
		}
		switch {
		case !outOfMemory:
			w.Write(line)
		case len(line) > 0 && len(held) < 64:
			held = append(held, bytes.Clone(line))
		}
		atLineStart = err == nil // a chunk of a longer line does not start one
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return outOfMemory, held
		}
	}
}

// Budget reads --max-time and --max-memory from args before cobra does
// (the parent never runs cobra; the child's budget watches cobra's own
// execution): the defaults where they are not given.
func Budget(args []string) (maxTime time.Duration, maxMemory uint64, err error) {
	maxTime, maxMemory = DefaultMaxTime, DefaultMaxMemory
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "--") || (name != "max-time" && name != "max-memory") {
			continue
		}
		if !hasValue && i+1 < len(args) {
			i++
			value = args[i]
		}
		switch name {
		case "max-time":
			d, err := time.ParseDuration(value)
			if err != nil || d <= 0 {
				return maxTime, maxMemory, fmt.Errorf("--max-time %q is not a positive duration (30s, 2m)", value)
			}
			maxTime = d
		case "max-memory":
			n, err := parseBytes(value)
			if err != nil {
				return maxTime, maxMemory, fmt.Errorf("--max-memory %q is not a size (512MiB, 2GiB)", value)
			}
			maxMemory = n
		}
	}
	return maxTime, maxMemory, nil
}

func parseBytes(s string) (uint64, error) {
	units := []struct {
		suffix string
		factor uint64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseUint(num, 10, 64)
			if err != nil || n == 0 || strconv.FormatUint(n, 10) != num {
				return 0, errors.New("bad size")
			}
			return n * u.factor, nil
		}
	}
	return 0, errors.New("bad size")
}
