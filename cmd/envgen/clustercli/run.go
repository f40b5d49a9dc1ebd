package clustercli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"

	"envgen.dev/envgen/cmd/envgen/cli"
	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/model"
	"envgen.dev/envgen/pipeline"
	"envgen.dev/envgen/runner"
)

// Exit codes of envgen run besides the build's own.
const (
	ExitTimeout = 124             // --timeout or the build Pod's deadline expired
	ExitCluster = cli.ExitCluster // envgen or the cluster failed; the build could not run
)

type runOptions struct {
	kube      kubeOptions
	env       string
	tag       string
	buildID   string
	timeout   time.Duration
	keep      bool
	logPrefix string
	report    string
	junit     string
	secrets   []string
	artifacts string
	maxBytes  int64
	grace     time.Duration
	nodeLost  time.Duration
	stage     string
	namespace string
	// serviceAccounts are the --namespace's accounts a build may run as.
	serviceAccounts []string
	image           imageOptions
	noBuild         bool
	fence           fenceOptions
}

func newRunCmd() *cobra.Command {
	opts := runOptions{fence: newFenceOptions()}
	cmd := &cobra.Command{
		Use:   "run [dir]",
		Short: "Run the ci environment's build on a cluster and exit with its exit code",
		Long: `Run compiles the ci environment exactly as 'envgen build --env ci' does and runs
it on the cluster of your kubeconfig:

  0. when envgen.cue says how the image is built (build:), builds it from
     the repository on the BuildKit daemon --buildkit names (see envgen
     image --help: the context checked, the steps streamed, build secrets
     from --build-secret) and pushes it, while steps 1 to 3 make the
     namespace and start the test services; the build Pod then runs exactly
     that image, by digest (the kubelet's imageID is checked). A Dockerfile
     error exits 1, a failed RUN step with its own exit code, before a
     build Pod exists; --no-build skips it;
  1. creates a namespace for this build (<service>-ci-<build id>-<hash>), labelled
     as envgen's, with an expiry annotation and the "restricted" Pod Security
     Standard enforced; it never reuses an existing namespace. Before
     anything of the build's, it fences the namespace in: a ResourceQuota
     (--quota: what the build Pod, its test services and objects share), a
     LimitRange (modest limits for a container that names none) and a
     NetworkPolicy that lets in only the namespace's own Pods and lets them
     out to their namespace, DNS and public addresses only (--egress open
     lifts it, --egress-allow adds a private block: a package mirror);
  2. creates the Secrets ci.secrets declares there, from the CI job's
     credentials (--secret), then applies every object with server-side apply
     (field manager envgen);
  3. waits for the test services to be ready, then creates the build Pod;
     with ci.stages, one Pod per stage, each as soon as the stages it needs
     have passed (independent ones side by side); after the first failure no
     stage starts, and that failure's exit code is the run's; --stage X runs
     X and the stages it needs;
  4. streams the build's log to stdout while it runs (a stage's lines start
     with [stage]); progress goes to stderr (a live line on a terminal,
     timestamped lines otherwise);
  5. fails fast when the build cannot run (image pull errors, bad config, a
     crash-looping test service, unschedulable: for lack of capacity only
     after --schedule-grace), printing the namespace's events and the Pod's
     status; the build ends when its container exits; a node under the build
     that stops being Ready is named, and after --node-lost-after the run
     ends (125): a frozen or lost kubelet never reports the build's end;
  6. with --artifacts DIR, copies ci.artifacts out of the build Pod (tar over
     exec), passed or failed;
  7. deletes the namespace on every path (success, failure, timeout, Ctrl-C),
     unless --keep; a killed envgen leaves the Pod's activeDeadlineSeconds and
     the expiry for 'envgen gc';
  8. prints how long each phase took (--report writes it as JSON, --junit as
     JUnit XML for Jenkins' junit step).

With --namespace NS, the build runs in an existing namespace instead (one a
platform team made, where envgen holds only the Role 'envgen rbac
--build-namespace NS' prints): envgen neither creates nor deletes it. Builds of
one service there take turns on a Lease (envgen-<service>), since the ci
overlay's objects have fixed names; everything the run creates carries its
build id and is deleted at the end; an object of the same name that a run did
not create is never taken over (125). A build whose envgen died leaves its
Lease to expire (30 s); the next one takes over and deletes what it left.

If envgen.cue binds the environment to a cluster (cluster: {server, uid}),
another cluster is refused (2) before anything is created. A request the API
server does not start to answer within --request-timeout fails the run (125);
brief outages are ridden out with retries.

Before it creates anything, envgen checks that every Secret and ConfigMap key
the build and its test services read will be in the namespace: a Secret of
ci.secrets, or a ConfigMap of the ci overlay. envgen.cue names the Secrets;
their values come only from the command line, one --secret per key:

  --secret NAME/KEY=env:VARIABLE   the value of an environment variable
  --secret NAME/KEY=file:PATH      the content of a file

The values go into the Secret in the build's namespace and nowhere else (not
the manifests, the logs or --report), and die with the namespace.

Exit codes: the build container's own exit code (0 when it succeeded), or
a failed image build step's (the report says which: exitCodeFrom);
1 envgen.cue is invalid, or its build reads a Secret or ConfigMap that the
namespace will not have; 2 wrong usage, or a --secret missing, undeclared or
unreadable; 124 the timeout expired; 125 envgen or the cluster failed, or the
build could not start; 130 / 143 interrupted by SIGINT / SIGTERM (after
cleaning up).`,
		Example: `  # in Jenkins, in the cloned repository:
  envgen run --tag "$GIT_COMMIT" --build-id "$BUILD_TAG" --report timing.json

  # with ci.secrets: {"citoid-secrets": ["mw-api-token"]}, in a Jenkinsfile:
  #   withCredentials([string(credentialsId: 'citoid-mw-token', variable: 'MW_TOKEN')]) {
  #     sh 'envgen run --secret citoid-secrets/mw-api-token=env:MW_TOKEN'
  #   }`,
		Args: cli.Args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd, args, opts)
		},
	}
	opts.kube.addFlags(cmd)
	cmd.Flags().StringVarP(&opts.env, "env", "e", "ci", "the environment whose build to run")
	cmd.Flags().StringVar(&opts.tag, "tag", "", "replace the image tag of the service (the commit's image)")
	cmd.Flags().StringVar(&opts.buildID, "build-id", "", "names this build and its namespace (default: $BUILD_TAG, else a random id)")
	cmd.Flags().DurationVar(&opts.timeout, "timeout", 0, "give up after this long (default: ci.timeout + 5m)")
	cmd.Flags().BoolVar(&opts.keep, "keep", false, "keep the namespace afterwards, for debugging")
	cmd.Flags().StringVar(&opts.logPrefix, "log-prefix", "", "put this before every line of the build's log")
	cmd.Flags().StringVar(&opts.report, "report", "", "write the timing report as JSON to this file")
	cmd.Flags().DurationVar(&opts.grace, "schedule-grace", runner.DefaultScheduleGrace, "how long a Pod may wait for capacity (Insufficient cpu/memory) before the run fails; other scheduling failures fail it at once")
	cmd.Flags().DurationVar(&opts.nodeLost, "node-lost-after", runner.DefaultNodeLostAfter, "end the run (125) when the node under a build Pod has not been Ready this long: its kubelet is frozen or gone and the build's end cannot be seen; 0 waits for --timeout")
	cmd.Flags().StringVar(&opts.junit, "junit", "", "write the run as a JUnit XML file (phases and the build's result), for Jenkins' junit step")
	cmd.Flags().StringVar(&opts.artifacts, "artifacts", "", "copy ci.artifacts out of the build into this directory after it ran, passed or failed")
	cmd.Flags().Int64Var(&opts.maxBytes, "artifacts-max", 1<<30, "stop copying artifacts past this many bytes")
	opts.fence.addFlags(cmd)
	cmd.Flags().StringVarP(&opts.namespace, "namespace", "n", "", "run in this existing namespace (a Role there is enough) instead of a new namespace per build")
	cmd.Flags().StringArrayVar(&opts.serviceAccounts, "allow-service-account", nil, "with --namespace: a ServiceAccount there the build's Pods may run as, besides default (repeat)")
	cmd.Flags().StringVar(&opts.stage, "stage", "", "run only this stage of ci.stages, and the stages it needs")
	cmd.Flags().StringArrayVar(&opts.secrets, "secret", nil, "a key of a Secret ci.secrets declares: NAME/KEY=env:VARIABLE or NAME/KEY=file:PATH (repeat per key)")
	opts.image.addFlags(cmd)
	cmd.Flags().BoolVar(&opts.noBuild, "no-build", false, "do not build the image (build:): run the image envgen.cue names, or --tag's")
	return cmd
}

func runRun(cmd *cobra.Command, args []string, opts runOptions) error {
	start := time.Now()
	buildID := opts.buildID
	if buildID == "" {
		buildID = os.Getenv("BUILD_TAG")
	}
	if buildID == "" {
		buildID = randomBuildID()
	}
	if opts.namespace != "" {
		if errs := validation.IsDNS1123Label(opts.namespace); len(errs) > 0 {
			return cli.Exit(cli.ExitUsage, fmt.Errorf("--namespace %q is not a namespace name: %s", opts.namespace, strings.Join(errs, "; ")))
		}
	} else if len(opts.serviceAccounts) > 0 {
		return cli.Exit(cli.ExitUsage, errors.New("--allow-service-account names accounts of a shared namespace: give --namespace too (a namespace of the build's own has only its default account)"))
	}
	if err := opts.fence.check(cmd, opts.namespace != ""); err != nil {
		return cli.Exit(cli.ExitUsage, err)
	}
	path := cli.InputPath(args)
	result, err := pipeline.Load(path, compiler.Options{Tag: opts.tag, Environments: []string{opts.env}})
	if err != nil {
		return err
	}
	service, _ := result.Project.Environment(opts.env)
	if service.CI == nil {
		return fmt.Errorf("envgen.cue has no ci section: nothing to run")
	}
	objects, err := renderRun(result, opts.env, opts.stage)
	if err != nil {
		return err
	}
	if err := checkRunnable(result, service, objects, opts); err != nil {
		return err
	}
	secrets, err := runner.CollectSecrets(service.CI.Secrets, opts.secrets, os.LookupEnv)
	if err != nil {
		return cli.Exit(cli.ExitUsage, err)
	}
	var artifacts *runner.Artifacts
	switch {
	case opts.artifacts != "" && len(service.CI.Artifacts) == 0:
		return cli.Exit(cli.ExitUsage, fmt.Errorf("--artifacts: envgen.cue's ci.artifacts lists nothing to copy"))
	case opts.artifacts != "":
		artifacts = &runner.Artifacts{Paths: service.CI.Artifacts, Dir: opts.artifacts, MaxBytes: opts.maxBytes}
		if err := refuseLinks("--artifacts", opts.artifacts); err != nil {
			return err
		}
		if err := os.MkdirAll(opts.artifacts, 0o755); err != nil {
			return cli.Exit(cli.ExitUsage, fmt.Errorf("--artifacts: %w", err))
		}
	}
	// The report files are opened now: a path that cannot be written must
	// stop the run before it starts, not hide its result at the end.
	reportFile, err := createOutput("--report", opts.report, opts.artifacts)
	if err != nil {
		return err
	}
	junitFile, err := createOutput("--junit", opts.junit, opts.artifacts)
	if err != nil {
		return err
	}
	var job *imageJob
	if service.Build != nil && !opts.noBuild {
		if opts.tag != "" {
			return cli.Usage("envgen run", errors.New("--tag: envgen.cue builds the image (build:), and the run tests the image it builds; --no-build runs a tag built elsewhere"))
		}
		if job, err = prepareImage(cmd.Context(), cmd.CommandPath(), opts.image, filepath.Dir(path), service, buildID); err != nil {
			return err
		}
	}
	timeout := opts.timeout
	if timeout == 0 {
		timeout = time.Duration(service.CI.TimeoutSeconds)*time.Second + 5*time.Minute
	}
	clients, err := opts.kube.clients()
	if err != nil {
		return cli.Exit(ExitCluster, err)
	}
	if err := runner.CheckCluster(cmd.Context(), clients.Kube, opts.env, service.Cluster); err != nil {
		var wrong *runner.WrongClusterError
		if errors.As(err, &wrong) {
			return cli.Exit(cli.ExitUsage, err)
		}
		return cli.Exit(ExitCluster, err)
	}
	commit := headCommit(cmd.Context(), filepath.Dir(path))
	stderr := cmd.ErrOrStderr()
	progress := runner.NewProgress(stderr, isTerminal(stderr))
	var prepare runner.Prepare
	if job != nil {
		var cluster *rest.Config
		if strings.HasPrefix(job.address, "kube-pod:") {
			if cluster, err = opts.kube.config(); err != nil {
				return cli.Exit(ExitCluster, err)
			}
		}
		prepare = func(ctx context.Context) (*runner.BuiltImage, []map[string]any, error) {
			return buildAndPin(ctx, job, cluster, path, opts, stderr, progress)
		}
	}
	report, runErr := runner.Run(cmd.Context(), clients, runner.Options{
		Prepare:       prepare,
		DeferImage:    model.ImageRef(service.Image, service.Tag, service.Digest),
		SameImage:     sameImage,
		Service:       result.Project.Name,
		BuildID:       buildID,
		Objects:       objects,
		Secrets:       secrets,
		Artifacts:     artifacts,
		ScheduleGrace: opts.grace,
		NodeLostAfter: opts.nodeLost,
		Timeout:       timeout,
		Keep:          opts.keep,
		LogPrefix:     opts.logPrefix,
		Logs:          cmd.OutOrStdout(),
		Progress:      progress,
		Namespace:     opts.namespace,
		Start:         start,
		ExpiryGrace:   15 * time.Minute,
		Quota:         opts.fence.quota.Quota,
		Egress:        opts.fence.runnerEgress(),
	})
	progress.Line("")
	report.Print(stderr)
	exit := runExit(cmd.Context(), runErr)
	report.Commit = commit
	report.ExitCode, report.ExitCodeFrom = 0, "envgen"
	if exit != nil {
		report.ExitCode = cli.ExitCode(exit)
	}
	if failed := (*runner.BuildFailedError)(nil); runErr == nil || (errors.As(runErr, &failed) && failed.Ran) {
		report.ExitCodeFrom = "build"
	}
	if image := (*runner.ImageBuildError)(nil); errors.As(runErr, &image) {
		report.ExitCodeFrom = "image build"
	}
	if err := writeOutput(reportFile, report.JSON); err != nil {
		return cli.Exit(ExitCluster, fmt.Errorf("writing --report: %w", err))
	}
	if err := writeOutput(junitFile, report.JUnit); err != nil {
		return cli.Exit(ExitCluster, fmt.Errorf("writing --junit: %w", err))
	}
	return exit
}

// writeOutput writes what data returns into f and closes it.
func writeOutput(f *os.File, data func() ([]byte, error)) error {
	if f == nil {
		return nil
	}
	out, err := data()
	if err == nil {
		_, err = f.Write(out)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// runExit maps how a run ended to envgen run's exit codes.
func runExit(ctx context.Context, err error) error {
	var (
		failed  *runner.BuildFailedError
		timeout *runner.TimeoutError
		sig     *cli.SignalError
		image   *runner.ImageBuildError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(context.Cause(ctx), &sig):
		return cli.Exit(128+int(sig.Signal), sig)
	case errors.As(err, &timeout):
		return cli.Exit(ExitTimeout, err)
	case errors.As(err, &failed) && failed.Ran:
		return cli.Exit(failed.ExitCode, err)
	case errors.As(err, &image):
		return cli.Exit(image.ExitCode, err)
	}
	return cli.Exit(ExitCluster, err)
}

func randomBuildID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "local-" + time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
