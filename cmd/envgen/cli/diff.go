package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/pipeline"
	"envgen.dev/envgen/semdiff"
)

type diffOptions struct {
	from   string
	output string
}

// differencesError makes envgen diff exit 1 when there are differences.
type differencesError struct{ n int }

func (e *differencesError) Error() string { return fmt.Sprintf("%d differences", e.n) }

func newDiffCmd() *cobra.Command {
	var opts diffOptions
	cmd := &cobra.Command{
		Use:   "diff --from <git-rev> [dir]",
		Short: "Show what a change does to every environment, field by field",
		Long: `Diff renders every environment of dir/envgen.cue at a git revision and in the
working tree, and prints one semantic diff per environment and object: objects
added or removed, and fields added, removed or changed with their old and new
values, in a stable order, with no noise from key order or formatting.

Exit codes: 0 no difference, 1 differences (so a job can post the diff as a
review comment only when there is one), 2 wrong usage or an unknown revision.`,
		Example: `  envgen diff --from HEAD~1
  envgen diff --from origin/main -o json services/citoid`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiff(cmd, args, opts)
		},
	}
	cmd.Flags().StringVar(&opts.from, "from", "", "the git revision to compare with (required)")
	cmd.Flags().StringVarP(&opts.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runDiff(cmd *cobra.Command, args []string, opts diffOptions) error {
	if opts.from == "" {
		return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--from is required")}
	}
	if opts.output != "text" && opts.output != "json" {
		return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--output must be text or json, not %q", opts.output)}
	}
	input := inputPath(args)
	current, err := pipeline.Load(input, compiler.Options{})
	if err != nil {
		return err
	}
	oldSrc, oldName, err := gitShow(input, opts.from)
	if err != nil {
		return &usageError{command: cmd.CommandPath(), err: err}
	}
	var previous *pipeline.Result
	if oldSrc != nil {
		if previous, err = pipeline.LoadSource(oldName, oldSrc, compiler.Options{}); err != nil {
			return fmt.Errorf("envgen.cue at %s: %w", opts.from, err)
		}
	}

	var changes []semdiff.Change
	for _, env := range environmentUnion(previous, current) {
		before, err := renderedMaps(previous, env)
		if err != nil {
			return err
		}
		after, err := renderedMaps(current, env)
		if err != nil {
			return err
		}
		changes = append(changes, semdiff.Objects(env, before, after)...)
	}
	out := cmd.OutOrStdout()
	if opts.output == "json" {
		if changes == nil {
			changes = []semdiff.Change{}
		}
		data, err := json.MarshalIndent(changes, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s\n", data)
	} else {
		semdiff.Text(out, changes)
	}
	if len(changes) > 0 {
		return &exitError{code: ExitInvalid, err: &differencesError{n: len(changes)}}
	}
	return nil
}

// gitShow returns envgen.cue as it was at rev, or nil if it did not exist.
func gitShow(input, rev string) ([]byte, string, error) {
	abs, err := filepath.Abs(input)
	if err != nil {
		return nil, "", err
	}
	dir := filepath.Dir(abs)
	top, err := exec.Command("git", "-C", dir, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return nil, "", fmt.Errorf("%s is not in a git repository", dir)
	}
	rel, err := filepath.Rel(strings.TrimSpace(string(top)), abs)
	if err != nil {
		return nil, "", err
	}
	if err := exec.Command("git", "-C", dir, "rev-parse", "--verify", "--quiet", rev+"^{commit}").Run(); err != nil {
		return nil, "", fmt.Errorf("unknown revision %q", rev)
	}
	spec := rev + ":" + filepath.ToSlash(rel)
	// The blob's size first: an old envgen.cue is read only when it is within
	// the limit, never whole before it is checked.
	var stderr bytes.Buffer
	sizeCmd := exec.Command("git", "-C", dir, "cat-file", "-s", spec)
	sizeCmd.Stderr = &stderr
	if out, err := sizeCmd.Output(); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > compiler.MaxFileSize {
			return nil, "", &compiler.InputError{Lines: []string{fmt.Sprintf("%s: file is %d bytes, more than the limit of %d", spec, n, compiler.MaxFileSize)}}
		}
	}
	stderr.Reset()
	show := exec.Command("git", "-C", dir, "show", spec)
	show.Stderr = &stderr
	src, err := show.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "does not exist") || strings.Contains(stderr.String(), "exists on disk, but not in") {
			return nil, spec, nil
		}
		return nil, "", fmt.Errorf("git show %s: %s", spec, strings.TrimSpace(stderr.String()))
	}
	return src, spec, nil
}

// environmentUnion lists the environments of both sides: the current ones
// in their order, then those only the old side had.
func environmentUnion(previous, current *pipeline.Result) []string {
	names := current.Project.EnvironmentNames()
	if previous != nil {
		for _, n := range previous.Project.EnvironmentNames() {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

func renderedMaps(r *pipeline.Result, env string) ([]map[string]any, error) {
	if r == nil || !slices.Contains(r.Project.EnvironmentNames(), env) {
		return nil, nil
	}
	built, err := r.Render(env)
	if err != nil {
		return nil, err
	}
	return built.Objects, nil
}
