package imagebuild

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/docker/cli/cli/config"
	"github.com/moby/buildkit/client"
	gatewaypb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"

	"envgen.dev/envgen/internal/termsafe"
)

// Options describe one image build.
type Options struct {
	Source Source
	Limits Limits
	// Target, Platform and Args are the Dockerfile frontend's: the stage,
	// the platform ("" for the daemon's) and the build arguments.
	Target   string
	Platform string
	Args     map[string]string
	// Secrets are the build secrets by id: mounted for RUN
	// --mount=type=secret steps only, never in a layer, and masked in
	// the build's output.
	Secrets map[string][]byte
	// Image is the reference the daemon pushes: repository:tag.
	Image string
	// Cache is where the layer cache lives in the registry.
	Cache CacheScope
	// Provenance, when set, has BuildKit attach SLSA provenance (v1,
	// mode=max) to the image, naming the builder and the source.
	Provenance *Provenance
	// Output receives the build's progress, one line per event.
	Output io.Writer
}

// Result is what a build made.
type Result struct {
	// Image is the pushed tag, Digest its manifest's digest: the image to
	// run is Repository@Digest.
	Image  string `json:"image"`
	Digest string `json:"digest"`
	// Steps are the Dockerfile instructions the build went through,
	// Cached how many of them came from a cache (the daemon's or the
	// registry's).
	Steps  int `json:"steps"`
	Cached int `json:"cached"`
	// ContextFiles and ContextBytes are what was sent, after
	// .dockerignore.
	ContextFiles int     `json:"contextFiles"`
	ContextBytes int64   `json:"contextBytes"`
	Seconds      float64 `json:"seconds"`
}

// Provenance is what a build's SLSA provenance says of where it came
// from: the builder (the daemon, and the kind of builds it is for) and the
// source (repository and commit).
type Provenance struct {
	BuilderID string `json:"builderId"`
	Source    string `json:"source,omitempty"`
	Revision  string `json:"revision,omitempty"`
}

// BuilderID names a daemon in provenance: its address and the kind of
// builds it is for ("trusted" or "untrusted", as CheckTrust checked it).
// BuildKit writes what the client says: the name is as good as the
// registry's write permission on the repository the image is in.
func BuilderID(address string, trusted bool) string {
	if trusted {
		return address + "#trusted"
	}
	return address + "#untrusted"
}

// Pinned is the built image by digest.
func (r *Result) Pinned() string {
	repo, _, _ := strings.Cut(r.Image, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo + "@" + r.Digest
}

// DockerfileError is a Dockerfile the frontend refused (a syntax error,
// an unknown stage): the repository's mistake, at File:Line.
type DockerfileError struct {
	File string
	Line int
	Msg  string
}

func (e *DockerfileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// StepError is a Dockerfile step that failed: a RUN whose command exited
// with ExitCode (0 when the step failed otherwise: a COPY of a file that
// is not there).
type StepError struct {
	Step     string
	File     string
	Line     int
	ExitCode int
	Msg      string
}

func (e *StepError) Error() string {
	where := e.File
	if e.Line > 0 {
		where = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	return fmt.Sprintf("%s: step %s failed: %s", where, e.Step, e.Msg)
}

// Build sends the context (opened by OpenContext from opts.Source, so
// that a repository's mistake fails before a daemon is reached) to the
// daemon, has it build the Dockerfile and push the image and its layer
// cache, and returns the pushed digest. The build's progress goes to
// opts.Output as it happens; cancelling ctx cancels the build on the
// daemon.
func Build(ctx context.Context, c *client.Client, bctx *Context, opts Options) (*Result, error) {
	start := time.Now()

	attrs := map[string]string{"filename": bctx.dockerfileName}
	if opts.Target != "" {
		attrs["target"] = opts.Target
	}
	if opts.Platform != "" {
		attrs["platform"] = opts.Platform
	}
	for k, v := range opts.Args {
		attrs["build-arg:"+k] = v
	}
	if p := opts.Provenance; p != nil {
		attrs["attest:provenance"] = "mode=max,version=v1,builder-id=" + p.BuilderID
		if p.Source != "" {
			attrs["vcs:source"] = p.Source
		}
		if p.Revision != "" {
			attrs["vcs:revision"] = p.Revision
		}
	}
	// The registry credentials are the CI job's (its Docker config, as
	// docker and buildctl use it), lent to the daemon for this build's
	// pulls and pushes: a pull request's job can push where its
	// credentials reach, the CI repository, and no further.
	attachables := []session.Attachable{authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: authprovider.LoadAuthConfig(config.LoadDefaultConfigFile(io.Discard)),
	})}
	if len(opts.Secrets) > 0 {
		attachables = append(attachables, secretsprovider.FromMap(maps.Clone(opts.Secrets)))
	}
	solve := client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		LocalMounts:   map[string]fsutil.FS{"context": bctx.context, "dockerfile": bctx.dockerfile},
		Session:       attachables,
		Exports: []client.ExportEntry{{
			Type:  client.ExporterImage,
			Attrs: map[string]string{"name": opts.Image, "push": "true"},
		}},
		CacheImports: opts.Cache.imports(),
		CacheExports: opts.Cache.exports(),
	}

	p := newPrinter(&maskingWriter{w: opts.Output, secrets: secretValues(opts.Secrets)})
	statuses := make(chan *client.SolveStatus)
	var resp *client.SolveResponse
	eg, egCtx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		var err error
		resp, err = c.Solve(egCtx, nil, solve, statuses)
		return err
	})
	eg.Go(func() error {
		for s := range statuses {
			p.handle(s)
		}
		return nil
	})
	err := eg.Wait()
	steps, cached := p.steps()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, classifySolveError(err, path.Join(opts.Source.Context, opts.Source.Dockerfile), p.failed, secretValues(opts.Secrets))
	}
	dgst := resp.ExporterResponse["containerimage.digest"]
	if dgst == "" {
		return nil, &DaemonError{Op: "pushing " + opts.Image, Err: errors.New("the daemon returned no digest")}
	}
	return &Result{
		Image: opts.Image, Digest: dgst, Steps: steps, Cached: cached,
		ContextFiles: bctx.Files, ContextBytes: bctx.Bytes,
		Seconds: time.Since(start).Seconds(),
	}, nil
}

// classifySolveError tells the repository's mistakes (a Dockerfile the
// frontend refuses, a step that fails) from the daemon's and the
// registry's failures. dockerfile is the Dockerfile's path for messages;
// failed the first step the status stream saw fail.
func classifySolveError(err error, dockerfile, failed string, secrets [][]byte) error {
	line := 0
	if sources := errdefs.Sources(err); len(sources) > 0 {
		src := sources[len(sources)-1]
		if r := src.GetRanges(); len(r) > 0 && r[0].GetStart() != nil {
			line = int(r[0].GetStart().GetLine())
		}
	}
	// The daemon's words, and a step's name, are the repository's: escaped,
	// and without the build secrets' values.
	msg := termsafe.String(mask(strings.TrimPrefix(shortGRPC(err).Error(), "failed to solve: "), secrets))
	failed = termsafe.String(mask(failed, secrets))
	var exit *gatewaypb.ExitError
	switch {
	case errors.As(err, &exit):
		return &StepError{Step: failed, File: dockerfile, Line: line, ExitCode: int(exit.ExitCode), Msg: fmt.Sprintf("exit code %d", exit.ExitCode)}
	case failed != "":
		return &StepError{Step: failed, File: dockerfile, Line: line, Msg: msg}
	case line > 0 || strings.Contains(msg, "dockerfile parse error") || strings.Contains(msg, "failed to parse"):
		return &DockerfileError{File: dockerfile, Line: line, Msg: msg}
	}
	return &DaemonError{Op: "building the image", Err: errors.New(msg)}
}

// secretValues are the values to mask, longest first (a value that
// contains another is masked whole): each value, trimmed, and each of its
// lines (the printer writes line by line, so a file of several lines, an
// .npmrc, shows a line at a time). Very short ones are not masked: they
// would blank out ordinary output.
func secretValues(secrets map[string][]byte) [][]byte {
	var out [][]byte
	add := func(v []byte) {
		if v = bytes.TrimSpace(v); len(v) >= 4 && !slices.ContainsFunc(out, func(o []byte) bool { return bytes.Equal(o, v) }) {
			out = append(out, v)
		}
	}
	for _, v := range secrets {
		add(v)
		for _, line := range bytes.Split(v, []byte("\n")) {
			add(line)
		}
	}
	slices.SortFunc(out, func(a, b []byte) int { return len(b) - len(a) })
	return out
}

// mask replaces the secrets' values in s.
func mask(s string, secrets [][]byte) string {
	for _, v := range secrets {
		s = strings.ReplaceAll(s, string(v), "****")
	}
	return s
}

// maskingWriter replaces the build secrets' values in what it writes: a
// RUN step that prints a secret must not put it in the CI log. The
// printer writes whole lines, so a value is never split across writes.
type maskingWriter struct {
	w       io.Writer
	secrets [][]byte
}

func (m *maskingWriter) Write(p []byte) (int, error) {
	if m.w == nil {
		return len(p), nil
	}
	out := p
	for _, s := range m.secrets {
		out = bytes.ReplaceAll(out, s, []byte("****"))
	}
	if _, err := m.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
