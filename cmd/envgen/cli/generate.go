package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/overlays"
	"envgen.dev/envgen/pipeline"
)

type generateOptions struct {
	out           string
	check         bool
	allowFindings bool
}

// staleError says that the committed tree differs from what envgen.cue
// generates.
type staleError struct{ dir string }

func (e *staleError) Error() string {
	return fmt.Sprintf("%s is stale: run 'envgen generate' and commit the result", e.dir)
}

func newGenerateCmd() *cobra.Command {
	var opts generateOptions
	cmd := &cobra.Command{
		Use:   "generate [dir | dir/...]",
		Short: "Write the kustomize tree (base + overlays) of every environment",
		Long: `Generate compiles dir/envgen.cue (dir defaults to .) and writes a kustomize
tree to dir/deploy (or --out):

  base/kustomization.yaml          the objects of the top level of envgen.cue
  overlays/<env>/kustomization.yaml  what the environment changes: images:
                                   entries, strategic merge patches, and the
                                   objects only it has

Every file starts with a "Code generated … DO NOT EDIT." line. The output is
byte-for-byte deterministic, so the tree can be committed and its changes
reviewed as diffs; 'kustomize build deploy/overlays/<env>' prints exactly what
'envgen build --env <env>' prints. The tree is replaced atomically; files that
no longer belong are removed. envgen refuses to replace a directory that holds
files it did not generate.

With --check nothing is written: envgen prints a unified diff of what would
change and exits 1 if the tree is stale, 0 if it is current.`,
		Example: `  envgen generate                 # ./envgen.cue → ./deploy
  envgen generate services/citoid --out services/citoid/k8s
  envgen generate --check         # in CI: fail when deploy/ is stale
  envgen generate ./...           # every envgen.cue under . (deploy/, cue.mod/, testdata/, node_modules/, vendor/ and hidden directories skipped)`,
		Args: Args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, many := patternRoot(args); many && opts.out != "" {
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--out names one tree: with %s each service's goes to its deploy/", args[0])}
			}
			return forEachService(cmd, args, func(cmd *cobra.Command, args []string) error {
				return runGenerate(cmd, args, opts)
			})
		},
	}
	cmd.Flags().StringVar(&opts.out, "out", "", "directory of the tree (default: deploy/ beside envgen.cue)")
	cmd.Flags().BoolVar(&opts.allowFindings, "allow-findings", false, "write production even with error-level vet findings")
	cmd.Flags().BoolVar(&opts.check, "check", false, "write nothing; print a diff and exit 1 if the tree is stale")
	return cmd
}

func runGenerate(cmd *cobra.Command, args []string, opts generateOptions) error {
	input := InputPath(args)
	out := opts.out
	if out == "" {
		out = filepath.Join(filepath.Dir(input), "deploy")
	}
	result, err := pipeline.Load(input, compiler.Options{})
	if err != nil {
		return err
	}
	if err := refuseProductionFindings(result.Project, "", opts.allowFindings); err != nil {
		return err
	}
	tree, err := result.Tree()
	if err != nil {
		return err
	}
	if opts.check {
		diff, err := overlays.Diff(out, out, tree)
		if err != nil {
			return err
		}
		if diff != nil {
			cmd.OutOrStdout().Write(diff)
			return &staleError{dir: out}
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%s is up to date\n", out)
		return nil
	}
	if err := overlays.Write(out, tree); err != nil {
		var (
			foreign *overlays.ForeignFilesError
			large   *overlays.TreeTooLargeError
		)
		if errors.As(err, &foreign) || errors.As(err, &large) {
			return err // already names the directory
		}
		return fmt.Errorf("writing %s: %w", out, err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d files for %d environments to %s\n", len(tree), len(result.Environments), out)
	return nil
}
