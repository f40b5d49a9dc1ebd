package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"envgen.dev/envgen/internal/termsafe"
	"envgen.dev/envgen/pins"
)

// The annotations BuildKit gives an attestation manifest in an image
// index, and the predicate type of its SLSA provenance.
const (
	referenceType    = "vnd.docker.reference.type"
	referenceDigest  = "vnd.docker.reference.digest"
	attestation      = "attestation-manifest"
	predicateTypeKey = "in-toto.io/predicate-type"
	slsaProvenance   = "https://slsa.dev/provenance/"
)

// maxStatement bounds an in-toto statement envgen reads.
const maxStatement = 16 << 20

// ProvenanceError says an image has no provenance envgen can read.
type ProvenanceError struct{ Ref, Reason string }

func (e *ProvenanceError) Error() string { return e.Ref + ": " + e.Reason }

// ReadProvenance reads the SLSA provenance BuildKit pushed beside the
// image repository@digest: the index's attestation manifest for its
// image, and in it the in-toto statement whose subject is that image.
func ReadProvenance(ctx context.Context, repository, digest string) (*pins.Provenance, error) {
	ref, err := name.NewDigest(repository + "@" + digest)
	if err != nil {
		return nil, err
	}
	desc, err := get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !desc.MediaType.IsIndex() {
		return nil, &ProvenanceError{Ref: ref.String(), Reason: "no provenance: a single image, not an index with an attestation (built without attest:provenance, or not by envgen)"}
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var image string
	attestations := map[string]v1.Hash{} // image digest → its attestation manifest
	for _, m := range manifest.Manifests {
		if m.Annotations[referenceType] == attestation {
			attestations[m.Annotations[referenceDigest]] = m.Digest
		} else if m.MediaType.IsImage() && image == "" {
			image = m.Digest.String()
		}
	}
	at, ok := attestations[image]
	if image == "" || !ok {
		return nil, &ProvenanceError{Ref: ref.String(), Reason: "no attestation manifest for its image in the index"}
	}
	opts, cancel := options(ctx)
	defer cancel()
	att, err := remote.Image(ref.Context().Digest(at.String()), opts...)
	if err != nil {
		return nil, registryError(ref.Context().Digest(at.String()).String(), err)
	}
	am, err := att.Manifest()
	if err != nil {
		return nil, err
	}
	for _, l := range am.Layers {
		if !strings.HasPrefix(l.Annotations[predicateTypeKey], slsaProvenance) {
			continue
		}
		if l.Size > maxStatement {
			return nil, &ProvenanceError{Ref: ref.String(), Reason: fmt.Sprintf("a provenance of %d bytes, more than %d", l.Size, maxStatement)}
		}
		layer, err := att.LayerByDigest(l.Digest)
		if err != nil {
			return nil, err
		}
		rc, err := layer.Compressed() // in-toto JSON, stored as it is
		if err != nil {
			return nil, registryError(ref.String(), err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxStatement))
		rc.Close()
		if err != nil {
			return nil, registryError(ref.String(), err)
		}
		return parseStatement(ref.String(), image, data)
	}
	return nil, &ProvenanceError{Ref: ref.String(), Reason: "its attestation holds no SLSA provenance"}
}

// statement is the part of an in-toto statement with a SLSA v1
// provenance predicate that envgen reads.
type statement struct {
	PredicateType string `json:"predicateType"`
	Subject       []struct {
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	Predicate struct {
		RunDetails struct {
			Builder struct {
				ID string `json:"id"`
			} `json:"builder"`
			Metadata struct {
				BuildKit struct {
					VCS map[string]string `json:"vcs"`
				} `json:"buildkit_metadata"`
			} `json:"metadata"`
		} `json:"runDetails"`
	} `json:"predicate"`
}

func parseStatement(ref, image string, data []byte) (*pins.Provenance, error) {
	var s statement
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, &ProvenanceError{Ref: ref, Reason: "its provenance is not an in-toto statement: " + err.Error()}
	}
	if !strings.HasPrefix(s.PredicateType, slsaProvenance+"v1") {
		return nil, &ProvenanceError{Ref: ref, Reason: fmt.Sprintf("its provenance is %q, not SLSA v1", termsafe.String(s.PredicateType))}
	}
	about := false
	for _, sub := range s.Subject {
		if "sha256:"+sub.Digest["sha256"] == image {
			about = true
		}
	}
	if !about {
		return nil, &ProvenanceError{Ref: ref, Reason: "its provenance is about another image"}
	}
	vcs := s.Predicate.RunDetails.Metadata.BuildKit.VCS
	return &pins.Provenance{Image: image, BuilderID: s.Predicate.RunDetails.Builder.ID, Source: vcs["source"], Revision: vcs["revision"]}, nil
}
