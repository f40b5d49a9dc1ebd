package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/pipeline"
	"envgen.dev/envgen/render"
	"envgen.dev/envgen/vet"
)

type buildOptions struct {
	env           string
	tag           string
	output        string
	allowFindings bool
}

func newBuildCmd() *cobra.Command {
	var opts buildOptions
	cmd := &cobra.Command{
		Use:   "build --env <name> [dir | dir/...]",
		Short: "Print the manifests of one environment",
		Long: `Build compiles dir/envgen.cue (dir defaults to .) and prints the manifests of
one environment as a multi-document YAML stream: the same objects, in the same
order, as 'kustomize build deploy/overlays/<name>' of the generated tree.

--tag retags the service's image, as 'kustomize edit set image
<image>=<image>:<tag>' would: every container whose repository is envgen.cue's
image gets the tag (and loses a digest): the main container, the scheduled
jobs, every release (a canary's own tag too), the other containers that run
the service's image (an init container, a sidecar without an image of its
own), and the CI build when it runs the service's image, even if ci.tag pins
another tag. Test services, containers with an image of their own (a proxy)
and a build with its own ci.image keep theirs. It is what a CI job passes
for the image built from the commit under test; to roll a canary first,
set releases.<name>.tag in envgen.cue instead.`,
		Example: `  envgen build --env ci
  envgen build --env production -o json services/citoid
  envgen build --env ci --tag "$GIT_COMMIT" | kubectl apply -f -
  envgen build --env production services/...   # every service's objects, one stream`,
		Args: Args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, many := patternRoot(args); many && opts.output != "yaml" {
				return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("-o %s prints one document for one service: with %s, -o yaml prints one stream", opts.output, args[0])}
			}
			// One YAML stream: each service's objects, "---" between.
			return forEachServiceJoined(cmd, args, "---\n", func(cmd *cobra.Command, args []string) error {
				return runBuild(cmd, args, opts)
			})
		},
	}
	cmd.Flags().StringVarP(&opts.env, "env", "e", "", "the environment to print (required)")
	cmd.Flags().StringVar(&opts.tag, "tag", "", "retag every container that runs the service's image (see above)")
	cmd.Flags().StringVarP(&opts.output, "output", "o", "yaml", "output format: yaml or json")
	cmd.Flags().BoolVar(&opts.allowFindings, "allow-findings", false, "print production even with error-level vet findings")
	return cmd
}

func runBuild(cmd *cobra.Command, args []string, opts buildOptions) error {
	if opts.env == "" {
		return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--env is required (development, ci, staging, production or one envgen.cue adds)")}
	}
	if opts.output != "yaml" && opts.output != "json" {
		return &usageError{command: cmd.CommandPath(), err: fmt.Errorf("--output must be yaml or json, not %q", opts.output)}
	}
	// Only the printed environment is resolved, which is most of build's
	// speed; production is vetted first, and its invariants need them all.
	only := []string{opts.env}
	if vet.Production(opts.env) && !opts.allowFindings {
		only = nil
	}
	result, err := pipeline.Load(InputPath(args), compiler.Options{Tag: opts.tag, Environments: only})
	if err != nil {
		return err
	}
	if vet.Production(opts.env) {
		if err := refuseProductionFindings(result.Project, opts.env, opts.allowFindings); err != nil {
			return err
		}
	}
	built, err := result.Render(opts.env)
	if err != nil {
		return err
	}
	if opts.output == "json" {
		return render.JSON(cmd.OutOrStdout(), built.Objects)
	}
	// kustomize's own bytes: what `kustomize build` of the tree prints.
	_, err = cmd.OutOrStdout().Write(built.YAML)
	return err
}
