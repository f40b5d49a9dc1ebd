package clustercli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"envgen.dev/envgen/cmd/envgen/cli"
	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/imagebuild"
	"envgen.dev/envgen/internal/termsafe"
	"envgen.dev/envgen/model"
	"envgen.dev/envgen/runner"
)

// imageOptions are the flags of the commands that build the service's
// image (image, run).
type imageOptions struct {
	buildkit string
	secrets  []string
	trusted  bool
}

func (o *imageOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.buildkit, "buildkit", "", "the BuildKit daemon: tcp://HOST:PORT, unix:///PATH, or kube-pod://POD?namespace=NS through the API server (default: $BUILDKIT_HOST)")
	cmd.Flags().StringArrayVar(&o.secrets, "build-secret", nil, "a build secret build.secrets declares: ID=env:VARIABLE or ID=file:PATH (repeat per id)")
	cmd.Flags().BoolVar(&o.trusted, "trusted", false, "a build of reviewed code (after merge): reads and writes the trusted layer cache only; needs a daemon no pull request uses")
}

func (o *imageOptions) address() string {
	if o.buildkit != "" {
		return o.buildkit
	}
	return os.Getenv("BUILDKIT_HOST")
}

// imageJob is one build of a service's image, checked and ready to run.
type imageJob struct {
	address string
	opts    imagebuild.Options
	// repository is where the image is pushed.
	repository string
}

// prepareImage checks what a build of the environment's image needs
// before anything slow starts: a daemon address, the build secrets'
// values. dir is envgen.cue's directory.
func prepareImage(ctx context.Context, command string, o imageOptions, dir string, service *model.Service, buildID string) (*imageJob, error) {
	b := service.Build
	address := o.address()
	if address == "" {
		return nil, cli.Usage(command, errors.New("envgen.cue builds the image (build:): say where BuildKit runs with --buildkit or $BUILDKIT_HOST (tcp://HOST:PORT, unix:///PATH, kube-pod://POD?namespace=NS)"))
	}
	if err := imagebuild.CheckAddress(address); err != nil {
		return nil, cli.Usage(command, err)
	}
	secrets, err := runner.CollectBuildSecrets(b.Secrets, o.secrets, os.LookupEnv)
	if err != nil {
		return nil, cli.Exit(cli.ExitUsage, err)
	}
	repository := b.Repository
	if repository == "" {
		repository = service.Image
	}
	return &imageJob{
		address:    address,
		repository: repository,
		opts: imagebuild.Options{
			Provenance: &imagebuild.Provenance{
				BuilderID: imagebuild.BuilderID(address, o.trusted),
				Source:    originURL(ctx, dir),
				Revision:  headCommit(ctx, dir),
			},
			Source:   imagebuild.Source{Repo: dir, Context: b.ContextDir(), Dockerfile: b.DockerfilePath()},
			Limits:   imagebuild.DefaultLimits,
			Target:   b.Target,
			Platform: b.Platform,
			Args:     b.Args,
			Secrets:  secrets,
			Image:    repository + ":" + imagebuild.BuildTag(buildID, time.Now()),
			Cache:    imagebuild.CacheScope{TrustedRepository: service.Image, Repository: repository, Trusted: o.trusted},
		},
	}, nil
}

// run connects to the daemon and builds; the build's lines go to out,
// envgen's own to progress.
func (j *imageJob) run(ctx context.Context, cluster *rest.Config, out io.Writer, progress *runner.Progress) (*imagebuild.Result, error) {
	// The repository's mistakes first: they need no daemon.
	bctx, err := imagebuild.OpenContext(ctx, j.opts.Source, j.opts.Limits)
	if err != nil {
		return nil, err
	}
	defer bctx.Close()
	progress.Status("connecting to BuildKit at %s", j.address)
	c, info, err := imagebuild.Connect(ctx, j.address, cluster)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := imagebuild.CheckTrust(ctx, c, j.opts.Cache.Trusted); err != nil {
		return nil, err
	}
	progress.Status("building %s with BuildKit %s (target %s; context: %d files, %d bytes)", j.opts.Image, info.BuildkitVersion.Version,
		orDefault(j.opts.Target, "the last stage"), bctx.Files, bctx.Bytes)
	j.opts.Output = progress.Writer(out)
	return imagebuild.Build(ctx, c, bctx, j.opts)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// imageExit maps an image build's failure to envgen's exit codes: the
// repository's mistakes are 1 (a failed RUN its own exit code), a daemon
// or registry that fails 125, a wrong address 2.
func imageExit(err error) error {
	var (
		step    *imagebuild.StepError
		file    *imagebuild.DockerfileError
		context *imagebuild.ContextError
		address *imagebuild.AddressError
		trust   *imagebuild.TrustError
		daemon  *imagebuild.DaemonError
	)
	switch {
	case errors.As(err, &step):
		code := step.ExitCode
		if code == 0 {
			code = cli.ExitInvalid
		}
		return &runner.ImageBuildError{Err: err, ExitCode: code}
	case errors.As(err, &file), errors.As(err, &context):
		return &runner.ImageBuildError{Err: err, ExitCode: cli.ExitInvalid}
	case errors.As(err, &address), errors.As(err, &trust):
		return cli.Exit(cli.ExitUsage, err)
	case errors.As(err, &daemon):
		return &runner.ClusterError{Op: "image build", Err: err}
	}
	return err
}

// imageCommandExit is envgen image's exit for a failed build: a signal's
// code when one ended it, else imageExit's.
func imageCommandExit(ctx context.Context, err error) error {
	var (
		sig   *cli.SignalError
		image *runner.ImageBuildError
		cl    *runner.ClusterError
	)
	err = imageExit(err)
	switch {
	case errors.As(context.Cause(ctx), &sig):
		return cli.Exit(128+int(sig.Signal), sig)
	case errors.As(err, &image):
		return cli.Exit(image.ExitCode, err)
	case errors.As(err, &cl):
		return cli.Exit(ExitCluster, err)
	}
	return err
}

func newImageCmd() *cobra.Command {
	var (
		opts    imageOptions
		kube    kubeOptions
		env     string
		buildID string
		report  string
	)
	cmd := &cobra.Command{
		Use:   "image [dir]",
		Short: "Build the service's image with BuildKit, push it, and print it by digest",
		Long: `Image builds the environment's image as envgen.cue's build section says
(context, Dockerfile, target stage, build arguments, build secrets,
platform) on a BuildKit daemon, pushes it to build.repository (default:
the service's image) as <repository>:envgen-<time>-<build id>, and prints the
image by digest on stdout: the reference to test, promote and deploy. The
tag is envgen-<UTC time>-<build id>: envgen gc --registry expires it.
envgen run does the same before a CI build; this command builds alone,
e.g. the production stage after merge (with --trusted).

The build context is checked before it is sent: its .dockerignore is
honoured, a link pointing out of it or a special file is refused, and it
is bounded (200,000 files, 4 GiB after .dockerignore). The build's steps
stream to stderr as BuildKit names them (#3 [2/4] RUN make), the build's
output escaped and build secrets masked.

The layer cache lives in the registry (mode=max: every layer, so any
daemon on any node reuses them): builds read <image>:buildcache (the
service's image repository) and <build repository>:buildcache-untrusted,
and write the latter; with --trusted they read and write <image>:buildcache
only, so no pull request can place a layer in an image that ships. A
daemon's own cache is shared by all its builds: trusted builds need a
daemon of their own (envgen buildkit --trusted), and envgen refuses a
daemon labelled for the other kind of build (2). The build lends the daemon
the job's registry credentials (its Docker config, as docker and buildctl
do): give the pull requests' job credentials that can push to the CI
repository only.

Exit codes: 0 built and pushed; 1 invalid envgen.cue, a Dockerfile error
(file:line), a build context that cannot be sent, or a step that failed
without an exit code; a failed RUN step's own exit code; 2 wrong usage (no
--buildkit, a build secret missing); 125 the daemon or the registry
failed; 130 / 143 interrupted (the build is cancelled on the daemon).`,
		Example: `  # after merge, in Jenkins:
  IMAGE=$(envgen image --env production --trusted --build-id "$BUILD_TAG" \
    --buildkit "kube-pod://buildkitd-trusted-0?namespace=buildkit")

  # with a build secret (RUN --mount=type=secret,id=npm-token):
  envgen image --build-secret npm-token=env:NPM_TOKEN`,
		Args: cli.Args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImage(cmd, args, opts, kube, env, buildID, report)
		},
	}
	opts.addFlags(cmd)
	kube.addFlags(cmd)
	cmd.Flags().StringVarP(&env, "env", "e", "production", "the environment whose image to build (its build section)")
	cmd.Flags().StringVar(&buildID, "build-id", "", "names the build and its tag envgen-<id> (default: $BUILD_TAG, else a random id)")
	cmd.Flags().StringVar(&report, "report", "", "write what was built (image, digest, steps from the cache, time) as JSON to this file")
	return cmd
}

func runImage(cmd *cobra.Command, args []string, opts imageOptions, kube kubeOptions, env, buildID, reportPath string) error {
	path := cli.InputPath(args)
	project, err := compiler.CompileFile(path, compiler.Options{Environments: []string{env}})
	if err != nil {
		return err
	}
	service, err := project.Environment(env)
	if err != nil {
		return err
	}
	if service.Build == nil {
		return fmt.Errorf("envgen.cue has no build section for environment %s: nothing to build (see envgen schema, #Build)", env)
	}
	if buildID == "" {
		buildID = os.Getenv("BUILD_TAG")
	}
	if buildID == "" {
		buildID = randomBuildID()
	}
	job, err := prepareImage(cmd.Context(), cmd.CommandPath(), opts, filepath.Dir(path), service, buildID)
	if err != nil {
		return err
	}
	reportFile, err := createOutput("--report", reportPath, "")
	if err != nil {
		return err
	}
	var cluster *rest.Config
	if strings.HasPrefix(job.address, "kube-pod:") {
		if cluster, err = kube.config(); err != nil {
			return cli.Exit(ExitCluster, err)
		}
	}
	stderr := cmd.ErrOrStderr()
	progress := runner.NewProgress(stderr, isTerminal(stderr))
	result, err := job.run(cmd.Context(), cluster, stderr, progress)
	progress.Line("")
	if err != nil {
		if reportFile != nil {
			_ = reportFile.Close()
			_ = os.Remove(reportPath)
		}
		return imageCommandExit(cmd.Context(), err)
	}
	progress.Line("envgen: built %s: %d of %d steps from the cache, %d files (%d bytes) sent, %.1fs",
		termsafe.String(result.Pinned()), result.Cached, result.Steps, result.ContextFiles, result.ContextBytes, result.Seconds)
	fmt.Fprintln(cmd.OutOrStdout(), result.Pinned())
	return writeOutput(reportFile, func() ([]byte, error) {
		data, err := json.MarshalIndent(result, "", "  ")
		return append(data, '\n'), err
	})
}
