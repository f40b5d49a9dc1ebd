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

	"github.com/spf13/cobra"

	"envgen.dev/envgen/cmd/envgen/cli"
	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/termsafe"
	"envgen.dev/envgen/pins"
	"envgen.dev/envgen/pins/registry"
	"envgen.dev/envgen/runner"
)

type promoteOptions struct {
	envs    []string
	image   string
	report  string
	commit  string
	builder string
	source  string
	tag     string
}

func newPromoteCmd() *cobra.Command {
	var opts promoteOptions
	cmd := &cobra.Command{
		Use:   "promote [dir]",
		Short: "Pin an image that was built and tested to environments, by digest, in envgen.lock.cue",
		Long: `promote pins the service's image of the environments named (--env) to an
image by digest, after checking it:

  - it is in the registry, in the repository the environment runs
    (envgen.cue's image there);
  - its SLSA provenance, which BuildKit pushed beside it (envgen image and
    envgen run ask for it), names a daemon for trusted builds (envgen image
    --trusted; or exactly --builder) and the commit: --commit, else the
    report's, else the checkout's HEAD; and the source with --source;
  - with --report, the run it names passed, for the same commit.

The image is --image REPOSITORY@sha256:…, or the one a passing run's
--report built. The pin goes into envgen.lock.cue beside envgen.cue (a
generated file of its package: commit it), with where it came from; envgen
generate then puts the digest into deploy/, and the promotion is reviewed
as any change: a YAML diff. A promotion of production covers the
environments that extend it (production-eqiad) and its releases, except a
release that names its own version. envgen lock never changes a
promotion. The registry tags the image pinned-<env>-<digest's first 12>,
by digest (the manifest as it is, never a rebuild), so that neither envgen
gc --registry nor the registry's own garbage collection deletes what an
environment runs; with --tag NAME it also tags it NAME.

BuildKit writes the builder's name as the client gives it: the provenance
is as good as the registry's write permission on the repository. Keep
pushes there to the trusted daemon.

Exit codes: 0 pinned; 1 the image may not be promoted (no provenance,
another builder or commit, a failed run, another repository) or invalid
envgen.cue; 2 wrong usage; 125 the registry failed or refused access.`,
		Example: `  # after merge: build the production stage on the trusted daemon, pin it
  IMAGE=$(envgen image --env production --trusted --buildkit "kube-pod://buildkitd-trusted-0?namespace=buildkit")
  envgen promote --env production --image "$IMAGE" --report ci-report.json
  envgen generate && git add envgen.lock.cue deploy && git commit -m "Promote citoid to production"`,
		Args: cli.Args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPromote(cmd, args, opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.envs, "env", "e", nil, "an environment to pin (repeat); production covers the environments that extend it")
	f.StringVar(&opts.image, "image", "", "the image, REPOSITORY@sha256:… (envgen image prints it)")
	f.StringVar(&opts.report, "report", "", "the report of a run that must have passed (envgen run --report); its image when --image is not given")
	f.StringVar(&opts.commit, "commit", "", "the commit the image must have been built from (default: the report's, else HEAD)")
	f.StringVar(&opts.builder, "builder", "", "the builder the provenance must name exactly (default: any daemon for trusted builds)")
	f.StringVar(&opts.source, "source", "", "the repository the provenance must name (its vcs source)")
	f.StringVar(&opts.tag, "tag", "", "also tag the image NAME in the registry, by digest")
	return cmd
}

func runPromote(cmd *cobra.Command, args []string, opts promoteOptions) error {
	usage := func(format string, a ...any) error {
		return cli.Usage(cmd.CommandPath(), fmt.Errorf(format, a...))
	}
	if len(opts.envs) == 0 {
		return usage("say which environments to pin: --env production (repeat)")
	}
	if opts.image == "" && opts.report == "" {
		return usage("say which image: --image REPOSITORY@sha256:…, or --report of the run that built it")
	}
	path := cli.InputPath(args)
	dir := filepath.Dir(path)
	// envgen.cue alone: a pin of an environment it no longer has must not
	// stop the command that rewrites the lock.
	project, err := compiler.CompileFile(path, compiler.Options{NoPins: true})
	if err != nil {
		return err
	}
	var report *runner.Report
	if opts.report != "" {
		if report, err = readRunReport(opts.report); err != nil {
			return err
		}
	}
	cand, err := candidate(opts, report)
	if err != nil {
		return err
	}
	if cand.Commit == "" {
		cand.Commit = headCommit(cmd.Context(), dir)
	}
	for _, env := range opts.envs {
		svc, err := project.Environment(env)
		if err != nil {
			return err
		}
		if svc.Image != cand.Repository {
			return cli.Exit(cli.ExitInvalid, fmt.Errorf("%s runs %s; %s is in %s: build it there (envgen image --env %s --trusted pushes to its build.repository)", env, svc.Image, termsafe.String(cand.Ref()), cand.Repository, env))
		}
	}
	prov, err := registry.Check(cmd.Context(), cand, registry.Policy{Builder: opts.builder, Source: opts.source})
	if err != nil {
		return registryExit(cmd.Context(), err)
	}
	// A tag of its own keeps the image: a registry that deletes images
	// (not tags) deletes one only when no tag but expired build tags names
	// it (envgen gc --registry), and a registry's garbage collection
	// deletes an untagged one.
	for _, env := range opts.envs {
		if err := registry.Tag(cmd.Context(), cand.Repository, cand.Digest, pins.KeepTag(env, cand.Digest)); err != nil {
			return registryExit(cmd.Context(), err)
		}
	}
	lock, err := pins.ReadLock(dir)
	if err != nil {
		return cli.Exit(cli.ExitInvalid, err)
	}
	if err := lock.Promote(project, opts.envs, cand, prov); err != nil {
		return registryExit(cmd.Context(), err)
	}
	pkg, err := pins.Package(path)
	if err != nil {
		return err
	}
	if err := lock.Write(dir, pkg); err != nil {
		return cli.Exit(cli.ExitIO, err)
	}
	if opts.tag != "" {
		if err := registry.Tag(cmd.Context(), cand.Repository, cand.Digest, opts.tag); err != nil {
			return registryExit(cmd.Context(), err)
		}
	}
	tested := ""
	if report != nil {
		tested = ", tested by run " + termsafe.String(report.BuildID)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "pinned %s to %s@%s (built from %s by %s%s) in %s\nrun envgen generate to put it into deploy/\n",
		strings.Join(opts.envs, ", "), cand.Repository, cand.Digest, cand.Commit, termsafe.String(prov.BuilderID), tested, filepath.Join(dir, pins.FileName))
	return nil
}

// candidate is the image to promote, from --image and the report.
func candidate(opts promoteOptions, report *runner.Report) (pins.Candidate, error) {
	var c pins.Candidate
	if opts.image != "" {
		repo, digest, ok := strings.Cut(opts.image, "@")
		if !ok || !strings.HasPrefix(digest, "sha256:") || len(digest) != 71 {
			return c, cli.Usage("envgen promote", fmt.Errorf("--image %q: want REPOSITORY@sha256:… (a digest, never a tag that could move)", opts.image))
		}
		c.Repository, c.Digest = repo, digest
	}
	if report != nil {
		if report.Outcome != "succeeded" {
			return c, cli.Exit(cli.ExitInvalid, fmt.Errorf("--report: run %s did not pass (%s): its commit is not promoted", termsafe.String(report.BuildID), report.Outcome))
		}
		c.Build = report.BuildID
		if opts.commit != "" && report.Commit != "" && opts.commit != report.Commit {
			return c, cli.Exit(cli.ExitInvalid, fmt.Errorf("--report: run %s tested commit %s, not %s", termsafe.String(report.BuildID), report.Commit, opts.commit))
		}
		c.Commit = report.Commit
		if img := report.Image; img != nil && (c.Digest == "" || c.Digest == img.Digest) {
			repo, tag := splitTag(img.Image)
			if c.Repository == "" || c.Repository == repo {
				c.Repository, c.Digest, c.Tag = repo, img.Digest, tag
			}
		}
		if c.Digest == "" {
			return c, cli.Exit(cli.ExitInvalid, fmt.Errorf("--report: run %s built no image: give --image", termsafe.String(report.BuildID)))
		}
	}
	if opts.commit != "" {
		c.Commit = opts.commit
	}
	return c, nil
}

// splitTag splits repository:tag.
func splitTag(ref string) (repo, tag string) {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

// readRunReport reads a run's --report, bounded.
func readRunReport(path string) (*runner.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, cli.Exit(cli.ExitUsage, fmt.Errorf("--report: %w", err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if err != nil {
		return nil, cli.Exit(cli.ExitIO, fmt.Errorf("--report: %w", err))
	}
	var r runner.Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, cli.Exit(cli.ExitInvalid, fmt.Errorf("--report %s: not a report of envgen run: %w", path, err))
	}
	return &r, nil
}

// registryExit maps what the registry and the checks said to exit codes:
// 1 for an image that may not be promoted, 125 for a registry that failed,
// a signal's code when one ended it.
func registryExit(ctx context.Context, err error) error {
	var (
		sig      *cli.SignalError
		promote  *pins.PromoteError
		prov     *registry.ProvenanceError
		unusable *registry.Error
	)
	switch {
	case errors.As(context.Cause(ctx), &sig):
		return cli.Exit(128+int(sig.Signal), sig)
	case errors.As(err, &promote), errors.As(err, &prov):
		return cli.Exit(cli.ExitInvalid, err)
	case errors.As(err, &unusable) && unusable.NotFound():
		return cli.Exit(cli.ExitInvalid, err)
	case errors.As(err, &unusable):
		return cli.Exit(ExitCluster, err)
	}
	return err
}
