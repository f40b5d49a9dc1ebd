package imagebuild

import (
	"context"
	"fmt"

	"github.com/moby/buildkit/client"
)

// The registry cache's tags, one per scope, in the build repository.
const (
	TrustedCacheTag   = "buildcache"
	UntrustedCacheTag = "buildcache-untrusted"
)

// CacheScope says which layer cache in the registry a build reads and
// writes (mode=max: every intermediate layer, so that any daemon replica
// on any node reuses them).
//
// Builds of pull requests are untrusted: they read the trusted cache and
// their own, and write only their own, beside the images they push. A
// trusted build (after merge, of reviewed code) reads and writes the
// trusted cache alone, so no pull request's step result can reach an
// image that ships. Two things keep it so beyond envgen's own choice of
// references: trusted builds run on a daemon of their own (`envgen
// buildkit --trusted`; a daemon's local cache is shared by every build it
// runs, and envgen refuses a daemon whose trust is not the build's), and
// the untrusted daemon's registry credentials can push only to the CI
// repository, not the service's.
type CacheScope struct {
	// TrustedRepository holds the trusted cache, <repository>:buildcache:
	// the service's image repository. "" builds without a registry cache
	// (the daemon's own only).
	TrustedRepository string
	// Repository is where the build pushes; an untrusted build keeps its
	// cache there, <repository>:buildcache-untrusted.
	Repository string
	Trusted    bool
}

func (s CacheScope) mine() string {
	if s.Trusted {
		return s.TrustedRepository + ":" + TrustedCacheTag
	}
	return s.Repository + ":" + UntrustedCacheTag
}

func (s CacheScope) imports() []client.CacheOptionsEntry {
	if s.TrustedRepository == "" {
		return nil
	}
	refs := []string{s.TrustedRepository + ":" + TrustedCacheTag}
	if !s.Trusted {
		refs = append(refs, s.mine())
	}
	var out []client.CacheOptionsEntry
	for _, ref := range refs {
		out = append(out, client.CacheOptionsEntry{Type: "registry", Attrs: map[string]string{"ref": ref}})
	}
	return out
}

func (s CacheScope) exports() []client.CacheOptionsEntry {
	if s.TrustedRepository == "" {
		return nil
	}
	// A cache that cannot be written costs the next build time, not this
	// one its result: the error is printed, the build goes on.
	return []client.CacheOptionsEntry{{Type: "registry", Attrs: map[string]string{"ref": s.mine(), "mode": "max", "ignore-error": "true"}}}
}

// TrustLabel is the worker label that says which builds a daemon is for
// (`envgen buildkit` writes it into buildkitd.toml): "trusted" or
// "untrusted".
const TrustLabel = "envgen.dev/builds"

// CheckTrust refuses a daemon whose trust label is not the build's: a
// trusted build on a daemon that pull requests use would reuse what their
// steps left in its cache; a pull request's build on the trusted daemon
// would leave its steps' results there. A daemon without the label
// (not envgen's) serves untrusted builds only.
func CheckTrust(ctx context.Context, c *client.Client, trusted bool) error {
	workers, err := c.ListWorkers(ctx)
	if err != nil {
		return &DaemonError{Op: "asking the daemon for its workers", Err: shortGRPC(err)}
	}
	want := "untrusted"
	if trusted {
		want = "trusted"
	}
	for _, w := range workers {
		got := w.Labels[TrustLabel]
		if got == want || (got == "" && !trusted) {
			continue
		}
		if got == "" {
			got = "unlabelled"
		}
		return &TrustError{Daemon: got, Build: want}
	}
	return nil
}

// TrustError is a build sent to a daemon for the other kind of builds.
type TrustError struct{ Daemon, Build string }

func (e *TrustError) Error() string {
	if e.Build == "trusted" {
		return fmt.Sprintf("a trusted build needs a daemon for trusted builds only (envgen buildkit --trusted); this one is %s, and what pull requests' steps left in its cache would reach the image", e.Daemon)
	}
	return "this daemon is for trusted builds only (envgen buildkit --trusted): a pull request's build must not leave its steps' results in its cache; use the pull requests' daemon, or --trusted for reviewed code"
}
