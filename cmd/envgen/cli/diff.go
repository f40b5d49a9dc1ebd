package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/pins"
	"envgen.dev/envgen/pipeline"
	"envgen.dev/envgen/semdiff"
)

type diffOptions struct {
	from   string
	output string
}

// differencesError makes envgen diff exit 1 when there are differences.
type differencesError struct{ n int }

func (e *differencesError) Error() string {
	if e.n == 1 {
		return "1 difference"
	}
	return fmt.Sprintf("%d differences", e.n)
}

func newDiffCmd() *cobra.Command {
	var opts diffOptions
	cmd := &cobra.Command{
		Use:   "diff --from <git-rev> [dir]",
		Short: "Show what a change does to every environment, field by field",
		Long: `Diff renders every environment of dir/envgen.cue at a git revision and in the
working tree, and prints one semantic diff per environment and object: objects
added or removed, and fields added, removed or changed with their old and new
values, in a stable order, with no noise from key order or formatting. The
revision's envgen.cue, the other files of its package and the packages it may
import are read from git's objects, never from the working tree.

Exit codes: 0 no difference, 1 differences (so a job can post the diff as a
review comment only when there is one), 2 wrong usage or an unknown revision.`,
		Example: `  envgen diff --from HEAD~1
  envgen diff --from origin/main -o json services/citoid
  envgen diff --from origin/main -o markdown > diff.md   # a review comment`,
		Args: Args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiff(cmd, args, opts)
		},
	}
	cmd.Flags().StringVar(&opts.from, "from", "", "the git revision to compare with (required)")
	cmd.Flags().StringVarP(&opts.output, "output", "o", "text", "output format: text, json or markdown (for a review comment)")
	return cmd
}

func runDiff(cmd *cobra.Command, args []string, opts diffOptions) error {
	if opts.from == "" {
		return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--from is required")}
	}
	if opts.output != "text" && opts.output != "json" && opts.output != "markdown" {
		return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--output must be text, json or markdown, not %q", opts.output)}
	}
	input := InputPath(args)
	current, err := pipeline.Load(input, compiler.Options{})
	if err != nil {
		return err
	}
	old, err := checkoutRevision(input, opts.from)
	var inputErr *compiler.InputError
	switch {
	case errors.As(err, &inputErr):
		return err
	case err != nil:
		return &usageError{command: cmd.CommandPath(), err: err}
	}
	defer old.Close()
	var previous *pipeline.Result
	if old.Input != "" {
		if previous, err = pipeline.Load(old.Input, compiler.Options{}); err != nil {
			if errors.As(err, &inputErr) {
				for i, line := range inputErr.Lines {
					inputErr.Lines[i] = old.Rename(line)
				}
			}
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
	if err := notePins(current, filepath.Dir(input), changes); err != nil {
		return err
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
	} else if opts.output == "markdown" {
		semdiff.Markdown(out, changes)
	} else {
		semdiff.Text(out, changes)
	}
	if len(changes) > 0 {
		return &exitError{code: ExitInvalid, err: &differencesError{n: len(changes)}}
	}
	return nil
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

// notePins says, of each image that became a pinned digest, where
// envgen.lock.cue's pin came from: the tag, or the build and run of a
// promotion.
func notePins(current *pipeline.Result, dir string, changes []semdiff.Change) error {
	lock, err := pins.ReadLock(dir)
	if err != nil {
		return err
	}
	for i, c := range changes {
		ref, ok := c.New.(string)
		if !ok || !strings.HasSuffix(c.Path, "image") {
			continue
		}
		_, digest, ok := strings.Cut(ref, "@")
		if !ok {
			continue
		}
		if src, ok := lock.SourceOf(pins.Chain(current.Project, c.Environment), digest); ok {
			changes[i].Note = src.String()
		}
	}
	return nil
}
