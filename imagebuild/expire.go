package imagebuild

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ExpireOptions select the build tags ExpireTags removes.
type ExpireOptions struct {
	// Repository is a registry repository, e.g. registry.example.org/citoid.
	Repository string
	// OlderThan is the age, by the time in the tag (BuildTag), past which
	// a build's tag is removed.
	OlderThan time.Duration
	Now       time.Time
	DryRun    bool
}

// TagVerdict is what ExpireTags did with one build tag, and why.
type TagVerdict struct {
	Tag     string
	Digest  string
	Built   time.Time
	Deleted bool
	Reason  string
}

// registryRequestTimeout bounds each request to the registry (the
// listing of tags, which may follow many pages, as a whole).
var registryRequestTimeout = 30 * time.Second

// maxTags bounds what a listing may return: a repository of more build
// tags than this wants a shorter expiry, not a longer walk.
const maxTags = 50_000

// TagPrefix starts the tag of every image envgen builds.
const TagPrefix = "envgen-"

// buildTagTime reads the time in a build tag: envgen-<UTC time>-<id>.
var buildTagTime = regexp.MustCompile(`^envgen-(\d{8}T\d{6}Z)-`)

const tagTimeLayout = "20060102T150405Z"

// BuildTag names the image of one build, envgen-<UTC time>-<build id>,
// within the 128 characters of a tag. The time is when the build began:
// a rebuild of unchanged code makes the same image (digest and creation
// time), so only the tag can say when a build last needed it.
func BuildTag(buildID string, at time.Time) string {
	tag := TagPrefix + at.UTC().Format(tagTimeLayout) + "-" + strings.Trim(notInTag.ReplaceAllString(buildID, "-"), "-.")
	if len(tag) > 128 {
		tag = tag[:128]
	}
	return strings.TrimRight(tag, "-.")
}

var notInTag = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// ExpireTags removes, through the registry's API, the build tags older
// than opts.OlderThan (tags envgen did not write are never touched: the
// registry cache's, a release's, production's). It deletes the tag itself
// (OCI distribution 1.1); a registry that deletes by digest only gets the
// image deleted when every tag that names it is an expired build tag, so
// an image that was promoted stays, and its build tag with it. Layers are
// the registry's to collect (its garbage collection), as for any deleted
// manifest. Credentials come from the Docker config, as docker and crane
// find them.
func ExpireTags(ctx context.Context, opts ExpireOptions) ([]TagVerdict, error) {
	repo, err := name.NewRepository(opts.Repository)
	if err != nil {
		return nil, fmt.Errorf("--registry %q: %w", opts.Repository, err)
	}
	// Each request is bounded; the listing, which may follow many pages,
	// as a whole.
	remoteOpts := func() ([]remote.Option, context.CancelFunc) {
		ctx, cancel := context.WithTimeout(ctx, registryRequestTimeout)
		return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, cancel
	}
	listOpts, cancelList := remoteOpts()
	tags, err := remote.List(repo, listOpts...)
	cancelList()
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %s: %w", repo, err)
	}
	if len(tags) > maxTags {
		return nil, fmt.Errorf("%s has %d tags, more than %d: expire them in steps (a shorter --tags-older-than)", repo, len(tags), maxTags)
	}
	sort.Strings(tags)
	var verdicts []TagVerdict
	expired := map[string]bool{}
	for _, tag := range tags {
		m := buildTagTime.FindStringSubmatch(tag)
		if m == nil {
			continue
		}
		built, err := time.Parse(tagTimeLayout, m[1])
		if err != nil {
			continue
		}
		v := TagVerdict{Tag: tag, Built: built, Reason: fmt.Sprintf("built %s ago", opts.Now.Sub(built).Round(time.Second))}
		expired[tag] = opts.Now.Sub(built) > opts.OlderThan
		verdicts = append(verdicts, v)
	}
	var tagsOf map[string][]string // digest → tags, read when a registry needs it
	for i := range verdicts {
		v := &verdicts[i]
		if !expired[v.Tag] {
			continue
		}
		headOpts, cancel := remoteOpts()
		desc, err := remote.Head(repo.Tag(v.Tag), headOpts...)
		cancel()
		if err != nil {
			return verdicts, fmt.Errorf("%s:%s: %w", repo, v.Tag, err)
		}
		v.Digest = desc.Digest.String()
		if opts.DryRun {
			v.Deleted = true
			continue
		}
		deleteOpts, cancel := remoteOpts()
		err = remote.Delete(repo.Tag(v.Tag), deleteOpts...)
		cancel()
		if err == nil {
			v.Deleted = true
			continue
		}
		if !refusedTagDelete(err) {
			return verdicts, fmt.Errorf("deleting %s:%s: %w", repo, v.Tag, err)
		}
		// By digest, then: only if nothing but expired build tags name it.
		if tagsOf == nil {
			if tagsOf, err = digests(repo, tags, remoteOpts); err != nil {
				return verdicts, err
			}
		}
		var keepers []string
		for _, other := range tagsOf[v.Digest] {
			if !expired[other] {
				keepers = append(keepers, other)
			}
		}
		if len(keepers) > 0 {
			v.Reason = "the registry deletes images, not tags, and this one is also tagged " + strings.Join(keepers, ", ")
			continue
		}
		v.Deleted = true
		if deletedDigest(verdicts[:i], v.Digest) {
			continue
		}
		deleteOpts, cancel = remoteOpts()
		err = remote.Delete(repo.Digest(v.Digest), deleteOpts...)
		cancel()
		if err != nil {
			return verdicts, fmt.Errorf("deleting %s@%s: %w", repo, v.Digest, err)
		}
	}
	return verdicts, nil
}

// refusedTagDelete says a registry refused to delete a manifest by tag
// (distribution before OCI 1.1: 400 UNSUPPORTED, or 405).
func refusedTagDelete(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	return terr.StatusCode == http.StatusMethodNotAllowed || terr.StatusCode == http.StatusBadRequest
}

// digests maps every tag's digest to its tags.
func digests(repo name.Repository, tags []string, remoteOpts func() ([]remote.Option, context.CancelFunc)) (map[string][]string, error) {
	out := map[string][]string{}
	for _, tag := range tags {
		opts, cancel := remoteOpts()
		desc, err := remote.Head(repo.Tag(tag), opts...)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s:%s: %w", repo, tag, err)
		}
		out[desc.Digest.String()] = append(out[desc.Digest.String()], tag)
	}
	return out, nil
}

func deletedDigest(before []TagVerdict, digest string) bool {
	for _, v := range before {
		if v.Deleted && v.Digest == digest {
			return true
		}
	}
	return false
}
