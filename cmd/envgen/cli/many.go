package cli

// Many services in one call: `envgen generate ./...`, `vet ./...`,
// `build --env ci ./...`, as Go and CUE read a pattern — every envgen.cue
// under a directory. A platform change to the organisation's CUE package
// regenerates every service, and each is independent of the others.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"envgen.dev/envgen/internal/termsafe"
)

// maxServiceWalk bounds the directory entries a pattern visits: a
// monorepo of a few thousand services, not a home directory.
const maxServiceWalk = 200000

// skippedDirs are never services' directories, and are not walked: what
// envgen generates, CUE's module packages, fixtures, version control,
// dependencies.
var skippedDirs = map[string]bool{"deploy": true, "cue.mod": true, "testdata": true, "node_modules": true, "vendor": true}

// patternRoot is the directory of a "dir/..." argument, and whether the
// argument is one.
func patternRoot(args []string) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	arg := args[0]
	if arg == "..." {
		return ".", true
	}
	if root, ok := strings.CutSuffix(arg, "/..."); ok {
		if root == "" {
			root = "/"
		}
		return root, true
	}
	return "", false
}

// servicesUnder lists the directories under root that hold an envgen.cue
// (a regular file), in lexical order. Links are not followed, and hidden
// and skippedDirs directories are not walked.
func servicesUnder(root string) ([]string, error) {
	var dirs []string
	visited := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if visited++; visited > maxServiceWalk {
			return fmt.Errorf("%s/... has more than %d files and directories: name a smaller tree", root, maxServiceWalk)
		}
		if d.IsDir() && path != root && (skippedDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if d.Name() == InputFile && d.Type().IsRegular() {
			dirs = append(dirs, filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, &usageError{command: "envgen", err: fmt.Errorf("no %s under %s", InputFile, root)}
	}
	return dirs, nil
}

// manyServicesGCPercent is the collector's setting for a dir/... run:
// 150 services generate in 8.4 s at 400 against 16 s at main's 50, with a
// peak of 310 MiB (measured on 2 cores).
const manyServicesGCPercent = 400

// forEachService runs run on the one service args names or, for a
// "dir/..." pattern, on every service under dir, side by side (as many as
// there are CPUs). Each service's output is printed whole, in the order
// of the services' paths; its errors name it. A summary follows on
// stderr, and the exit code is the worst of them.
func forEachService(cmd *cobra.Command, args []string, run func(cmd *cobra.Command, args []string) error) error {
	return forEachServiceJoined(cmd, args, "", run)
}

// forEachServiceJoined is forEachService with separator between the
// services' outputs on stdout ("---\n" between YAML streams).
func forEachServiceJoined(cmd *cobra.Command, args []string, separator string, run func(cmd *cobra.Command, args []string) error) error {
	root, ok := patternRoot(args)
	if !ok {
		return run(cmd, args)
	}
	dirs, err := servicesUnder(root)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// One service's heap is small and short-lived, and main keeps it
		// small (GOGC 50); for many, the collector was half the run's
		// CPU. The budget's memory limit still makes it work harder near
		// --max-memory.
		defer debug.SetGCPercent(debug.SetGCPercent(manyServicesGCPercent))
	}
	type outcome struct {
		stdout, stderr bytes.Buffer
		err            error
	}
	outcomes := make([]outcome, len(dirs))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	clock := newServiceClock(len(dirs))
	if b, ok := budgetOf(ctx); ok {
		b.perService.Store(true) // from here each service is timed
	}
	for i, dir := range dirs {
		g.Go(func() error {
			if ctx.Err() != nil {
				outcomes[i].err = context.Cause(ctx)
				return nil
			}
			clock.start(i)
			defer clock.stop(i)
			sub := &cobra.Command{Use: cmd.Use}
			sub.SetOut(&outcomes[i].stdout)
			sub.SetErr(&outcomes[i].stderr)
			sub.SetContext(ctx)
			outcomes[i].err = run(sub, []string{dir})
			return nil
		})
	}
	all := make(chan struct{})
	go func() { g.Wait(); close(all) }()
	var late error
	if b, ok := budgetOf(ctx); ok {
		// A service past its own time cannot be stopped apart from the
		// others (CUE's evaluation does not yield): the run ends, naming
		// it, as a single service's would, after what the services that
		// ended had to say.
		if i, over := clock.overrun(all, b.maxTime); over {
			late = &budgetError{what: fmt.Sprintf("%s: evaluating envgen.cue took longer than --max-time %s (each service of %s/... has its own); the input asks for too much computation", dirs[i], b.maxTime, root)}
		}
	}
	if late == nil {
		<-all
	}
	worst, failed, unfinished := 0, []string{}, []string{}
	printed := false
	for i, dir := range dirs {
		if late != nil && !clock.hasEnded(i) {
			unfinished = append(unfinished, dir)
			continue
		}
		o := &outcomes[i]
		if o.stdout.Len() > 0 {
			if printed {
				io.WriteString(cmd.OutOrStdout(), separator)
			}
			cmd.OutOrStdout().Write(o.stdout.Bytes())
			printed = true
		}
		cmd.ErrOrStderr().Write(o.stderr.Bytes())
		if o.err == nil {
			continue
		}
		var sig *SignalError
		if errors.As(o.err, &sig) {
			return o.err // interrupted: the others were not run
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "envgen: %s: %s\n", dir, termsafe.Lines(o.err.Error()))
		failed = append(failed, dir)
		worst = max(worst, ExitCode(o.err))
	}
	if late != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "envgen: %d service(s) under %s: %d ended (%d failed), %d not finished: %s\n",
			len(dirs), root, len(dirs)-len(unfinished), len(failed), len(unfinished), strings.Join(unfinished, ", "))
		if worst > ExitInvalid {
			return &exitError{code: worst, err: late}
		}
		return late
	}
	summary := fmt.Sprintf("%d service(s) under %s: %d ok, %d failed", len(dirs), root, len(dirs)-len(failed), len(failed))
	if worst == 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "envgen: %s\n", summary)
		return nil
	}
	return &exitError{code: worst, err: fmt.Errorf("%s: %s", summary, strings.Join(failed, ", "))}
}

// serviceClock times the services of a dir/... run, each from its start.
type serviceClock struct {
	mu      sync.Mutex
	started []time.Time
	ended   []bool
}

func newServiceClock(n int) *serviceClock {
	return &serviceClock{started: make([]time.Time, n), ended: make([]bool, n)}
}

func (c *serviceClock) start(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started[i] = time.Now()
}

func (c *serviceClock) stop(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended[i] = true
}

// hasEnded says whether service i ran to its end (its outcome is then
// complete).
func (c *serviceClock) hasEnded(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended[i]
}

// overrun waits until all is closed, or a service has run longer than
// limit, and names it.
func (c *serviceClock) overrun(all <-chan struct{}, limit time.Duration) (int, bool) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-all:
			return 0, false
		case <-tick.C:
		}
		c.mu.Lock()
		for i, t := range c.started {
			if !t.IsZero() && !c.ended[i] && time.Since(t) > limit {
				c.mu.Unlock()
				return i, true
			}
		}
		c.mu.Unlock()
	}
}
