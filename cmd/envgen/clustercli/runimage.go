package clustercli

// The image build of envgen run: the objects it runs, pinned to the image
// it built, and whether the node ran that image.

import (
	"context"
	"fmt"
	"io"
	"strings"

	"k8s.io/client-go/rest"

	"envgen.dev/envgen/cmd/envgen/cli"
	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/termsafe"
	"envgen.dev/envgen/pins/registry"
	"envgen.dev/envgen/pipeline"
	"envgen.dev/envgen/runner"
)

// renderRun is the environment's objects as run runs them: all, or the
// stage asked for and the stages it needs.
func renderRun(result *pipeline.Result, env, stage string) ([]map[string]any, error) {
	built, err := result.Render(env)
	if err != nil {
		return nil, err
	}
	if stage == "" {
		return built.Objects, nil
	}
	objects, err := runner.SelectStage(built.Objects, stage)
	if err != nil {
		return nil, cli.Exit(cli.ExitUsage, err)
	}
	return objects, nil
}

// buildAndPin builds the image, then compiles the environment again with
// the service's image pinned to what was built, by digest: the objects
// the run applies.
func buildAndPin(ctx context.Context, job *imageJob, cluster *rest.Config, path string, opts runOptions, out io.Writer, progress *runner.Progress) (*runner.BuiltImage, []map[string]any, error) {
	res, err := job.run(ctx, cluster, out, progress)
	if err != nil {
		return nil, nil, imageExit(err)
	}
	progress.Line("envgen: built %s: %d of %d steps from the cache", termsafe.String(res.Pinned()), res.Cached, res.Steps)
	pinned, err := pipeline.Load(path, compiler.Options{Digest: res.Digest, Repository: job.repository, Environments: []string{opts.env}})
	if err != nil {
		return nil, nil, err
	}
	objects, err := renderRun(pinned, opts.env, opts.stage)
	if err != nil {
		return nil, nil, err
	}
	return &runner.BuiltImage{
		Image: res.Image, Digest: res.Digest, Steps: res.Steps, Cached: res.Cached,
		ContextFiles: res.ContextFiles, ContextBytes: res.ContextBytes, Seconds: res.Seconds,
	}, objects, nil
}

// sameImage says whether the image a node ran (imageID) is the one built
// (repository@digest, an index): the same image of a platform, as the
// registry has them. A node names an image it already had by the first
// reference it pulled it as: another index of the same image (another
// build of the same code), or another repository's.
func sameImage(ctx context.Context, imageID, repository, digest string) (bool, error) {
	built, err := registry.PlatformImage(ctx, repository, digest)
	if err != nil {
		return false, err
	}
	ranRepo, ran, ok := strings.Cut(imageID, "@")
	if !ok {
		return false, nil
	}
	if ran == built {
		return true, nil
	}
	for _, repo := range []string{ranRepo, repository} {
		if p, err := registry.PlatformImage(ctx, repo, ran); err == nil {
			return p == built, nil
		}
	}
	return false, fmt.Errorf("the node ran %s, which the registry does not have: envgen cannot tell whether it is the image built (%s@%s)", imageID, repository, digest)
}
