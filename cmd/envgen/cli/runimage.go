package cli

// The image build of envgen run: the objects it runs, pinned to the image
// it built, and whether the node ran that image.

import (
	"context"
	"io"
	"strings"

	"k8s.io/client-go/rest"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/termsafe"
	"envgen.dev/envgen/pins"
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
		return nil, &exitError{code: ExitUsage, err: err}
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

// sameImage says whether the image a node ran (imageID, repository@digest)
// is the one built: the same image in the built index, as the registry
// has them.
func sameImage(ctx context.Context, imageID, built string) (bool, error) {
	repo, ran, ok := strings.Cut(imageID, "@")
	if !ok {
		return false, nil
	}
	a, err := pins.PlatformImage(ctx, repo, ran)
	if err != nil {
		return false, err
	}
	b, err := pins.PlatformImage(ctx, repo, built)
	if err != nil {
		return false, err
	}
	return a == b, nil
}
