package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// RequestTimeout bounds each registry request: a registry that is down or
// slow fails the command in seconds, saying which.
var RequestTimeout = 30 * time.Second

// Error is a registry that could not say what envgen asked:
// unreachable, slow, refusing credentials, or without the image.
type Error struct {
	Ref    string
	Reason string
	Err    error
}

func (e *Error) Error() string { return e.Ref + ": " + e.Reason }
func (e *Error) Unwrap() error { return e.Err }

// NotFound says the registry answered that the image or tag is not there.
func (e *Error) NotFound() bool {
	var terr *transport.Error
	return errors.As(e.Err, &terr) && terr.StatusCode == http.StatusNotFound
}

// registryError says in words what went wrong with ref.
func registryError(ref string, err error) error {
	var terr *transport.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Ref: ref, Reason: fmt.Sprintf("the registry did not answer within %s", RequestTimeout), Err: err}
	case errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound:
		return &Error{Ref: ref, Reason: "not in the registry (404)", Err: err}
	case errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden):
		return &Error{Ref: ref, Reason: fmt.Sprintf("the registry refused envgen's credentials (%d): log in as docker and crane do (docker login, or a credential helper in ~/.docker/config.json)", terr.StatusCode), Err: err}
	case errors.As(err, &terr):
		return &Error{Ref: ref, Reason: fmt.Sprintf("the registry answered %d", terr.StatusCode), Err: err}
	}
	return &Error{Ref: ref, Reason: "the registry could not be reached: " + err.Error(), Err: err}
}

// options are the remote options of one request, with its own deadline.
func options(ctx context.Context) ([]remote.Option, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, cancel
}

// head is the descriptor the registry has for ref.
func head(ctx context.Context, ref name.Reference) (*v1.Descriptor, error) {
	opts, cancel := options(ctx)
	defer cancel()
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		return nil, registryError(ref.String(), err)
	}
	return desc, nil
}

// get is the manifest ref names.
func get(ctx context.Context, ref name.Reference) (*remote.Descriptor, error) {
	opts, cancel := options(ctx)
	defer cancel()
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, registryError(ref.String(), err)
	}
	return desc, nil
}

// Resolve is the digest a tag names now.
func Resolve(ctx context.Context, image string) (string, error) {
	ref, err := name.ParseReference(image)
	if err != nil {
		return "", fmt.Errorf("%s: %w", image, err)
	}
	desc, err := head(ctx, ref)
	if err != nil {
		return "", err
	}
	return desc.Digest.String(), nil
}

// Exists says whether repository@digest is in the registry.
func Exists(ctx context.Context, repository, digest string) error {
	ref, err := name.NewDigest(repository + "@" + digest)
	if err != nil {
		return fmt.Errorf("%s@%s: %w", repository, digest, err)
	}
	_, err = head(ctx, ref)
	return err
}

// Tag points repository:tag at repository@digest, by digest: the
// registry's manifest, never a rebuilt image.
func Tag(ctx context.Context, repository, digest, tag string) error {
	src, err := name.NewDigest(repository + "@" + digest)
	if err != nil {
		return err
	}
	dst, err := name.NewTag(repository + ":" + tag)
	if err != nil {
		return err
	}
	desc, err := get(ctx, src)
	if err != nil {
		return err
	}
	opts, cancel := options(ctx)
	defer cancel()
	if err := remote.Tag(dst, desc, opts...); err != nil {
		return registryError(dst.String(), err)
	}
	return nil
}

// PlatformImage is the image a node runs of repository@digest: the digest
// itself for a single image, the first image for a platform of an index
// (not an attestation). Two builds of the same code make two indexes
// (their provenance differs) of one image, and a node that has the image
// may report it by either.
func PlatformImage(ctx context.Context, repository, digest string) (string, error) {
	ref, err := name.NewDigest(repository + "@" + digest)
	if err != nil {
		return "", err
	}
	desc, err := get(ctx, ref)
	if err != nil {
		return "", err
	}
	if !desc.MediaType.IsIndex() {
		return digest, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return "", err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return "", err
	}
	for _, d := range m.Manifests {
		if d.MediaType.IsImage() && d.Platform != nil && d.Platform.OS != "unknown" {
			return d.Digest.String(), nil
		}
	}
	return "", &Error{Ref: ref.String(), Reason: "an index without an image for a platform"}
}
