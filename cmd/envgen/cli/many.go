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
	"path/filepath"
	"runtime"
	"strings"

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
	for i, dir := range dirs {
		g.Go(func() error {
			if ctx.Err() != nil {
				outcomes[i].err = context.Cause(ctx)
				return nil
			}
			sub := &cobra.Command{Use: cmd.Use}
			sub.SetOut(&outcomes[i].stdout)
			sub.SetErr(&outcomes[i].stderr)
			sub.SetContext(ctx)
			outcomes[i].err = run(sub, []string{dir})
			return nil
		})
	}
	g.Wait()
	worst, failed := 0, []string{}
	printed := false
	for i, dir := range dirs {
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
		var sig *signalError
		if errors.As(o.err, &sig) {
			return o.err // interrupted: the others were not run
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "envgen: %s: %s\n", dir, termsafe.Lines(o.err.Error()))
		failed = append(failed, dir)
		worst = max(worst, exitCode(o.err))
	}
	summary := fmt.Sprintf("%d service(s) under %s: %d ok, %d failed", len(dirs), root, len(dirs)-len(failed), len(failed))
	if worst == 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "envgen: %s\n", summary)
		return nil
	}
	return &exitError{code: worst, err: fmt.Errorf("%s: %s", summary, strings.Join(failed, ", "))}
}
