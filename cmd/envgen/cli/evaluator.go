package cli

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
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
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
			_ = unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: n, Max: n})
		}
		return 0, false
	}
	if !evaluatingCommands[commandName(args[1:])] {
		return 0, false
	}
	b, err := budgetFrom(args[1:])
	if err != nil {
		return 0, false // the command itself says what is wrong
	}
	return runEvaluator(args, addressSpace(b.maxMemory), b.maxMemory), true
}

// commandName is the first argument that is not a flag (nor the value of
// a root flag given apart).
func commandName(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--max-time" || a == "--max-memory":
			i++
		case strings.HasPrefix(a, "-"):
		default:
			return a
		}
	}
	return ""
}

// runEvaluator runs this binary again with args in the child, its stdin
// and stdout shared, its stderr passed through line by line until the Go
// runtime says it ran out of memory (the rest, a goroutine dump, is
// dropped). SIGINT, SIGTERM and SIGHUP are passed on once: the child is in
// a process group of its own, so a terminal's Ctrl-C reaches it only so.
func runEvaluator(args []string, limit, maxMemory uint64) int {
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = args // argv[0] as given: a test binary dispatches on it
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", evaluatorEnv, limit))
	cmd.Stdin, cmd.Stdout = os.Stdin, os.Stdout
	// Killed with the parent (kill -9 of a CI step): a child of its own
	// process group would otherwise evaluate on, and write, alone. The
	// signal is tied to the thread that started the child: it must not
	// end before the child does.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "envgen: starting the evaluation: %v\n", err)
		return ExitIO
	}
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(signals)
	go func() {
		for s := range signals {
			_ = cmd.Process.Signal(s)
		}
	}()
	outOfMemory, held := passStderr(stderr, os.Stderr)
	err = cmd.Wait()
	var exit *exec.ExitError
	// The runtime's own death: its message at a line's start and exit 2.
	// Text the child printed that looks like it (a field named so) is not.
	runtimeDied := errors.As(err, &exit) && exit.ExitCode() == 2
	if outOfMemory && !runtimeDied {
		for _, line := range held {
			os.Stderr.Write(line)
		}
	}
	switch {
	case outOfMemory && runtimeDied:
		fmt.Fprintf(os.Stderr, "envgen: evaluating envgen.cue asked for more memory in one piece than --max-memory %d MiB allows; the input asks for too much\n", maxMemory>>20)
		return ExitInvalid
	case err == nil:
		return ExitOK
	case errors.As(err, &exit):
		if status, ok := exit.Sys().(syscall.WaitStatus); ok && status.Signaled() {
			return 128 + int(status.Signal())
		}
		return exit.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "envgen: the evaluation: %v\n", err)
	return ExitIO
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
