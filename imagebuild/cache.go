package imagebuild

import "github.com/moby/buildkit/client"

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
// their own, and write only their own. A trusted build (after merge, of
// reviewed code) reads and writes the trusted cache alone, so no pull
// request's step result can reach an image that ships. (The daemon's own
// cache is shared by every build it runs: trusted builds need a daemon of
// their own, which `envgen buildkit --trusted` prints.)
type CacheScope struct {
	// Repository holds the cache's tags; "" builds without a registry
	// cache (the daemon's own only).
	Repository string
	Trusted    bool
}

func (s CacheScope) ref(tag string) string { return s.Repository + ":" + tag }

func (s CacheScope) imports() []client.CacheOptionsEntry {
	if s.Repository == "" {
		return nil
	}
	refs := []string{s.ref(TrustedCacheTag)}
	if !s.Trusted {
		refs = append(refs, s.ref(UntrustedCacheTag))
	}
	var out []client.CacheOptionsEntry
	for _, ref := range refs {
		out = append(out, client.CacheOptionsEntry{Type: "registry", Attrs: map[string]string{"ref": ref}})
	}
	return out
}

func (s CacheScope) exports() []client.CacheOptionsEntry {
	if s.Repository == "" {
		return nil
	}
	tag := UntrustedCacheTag
	if s.Trusted {
		tag = TrustedCacheTag
	}
	// A cache that cannot be written costs the next build time, not this
	// one its result: the error is printed, the build goes on.
	return []client.CacheOptionsEntry{{Type: "registry", Attrs: map[string]string{"ref": s.ref(tag), "mode": "max", "ignore-error": "true"}}}
}
