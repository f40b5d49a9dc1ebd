package registry

import (
	"context"
	"fmt"
	"strings"

	"envgen.dev/envgen/internal/termsafe"
	"envgen.dev/envgen/pins"
)

// Policy is what a promotion requires of an image's provenance.
type Policy struct {
	// Builder is the builder the provenance must name; "" takes any
	// daemon for trusted builds (a builder id ending in #trusted).
	Builder string
	// Source, if set, is the repository the provenance must name.
	Source string
}

// Check checks a candidate before it is promoted: it is in the registry,
// its SLSA provenance names a trusted builder (or policy.Builder), the
// commit, and the source where the policy asks for one.
func Check(ctx context.Context, c pins.Candidate, policy Policy) (*pins.Provenance, error) {
	if err := Exists(ctx, c.Repository, c.Digest); err != nil {
		return nil, err
	}
	prov, err := ReadProvenance(ctx, c.Repository, c.Digest)
	if err != nil {
		return nil, err
	}
	switch {
	case policy.Builder != "" && prov.BuilderID != policy.Builder:
		return nil, &pins.PromoteError{Reason: fmt.Sprintf("%s was built by %q, not %q", c.Ref(), termsafe.String(prov.BuilderID), policy.Builder)}
	case policy.Builder == "" && !strings.HasSuffix(prov.BuilderID, "#trusted"):
		return nil, &pins.PromoteError{Reason: fmt.Sprintf("%s was built by %q, not by a daemon for trusted builds (envgen image --trusted): a pull request's image is never promoted", c.Ref(), termsafe.String(prov.BuilderID))}
	case c.Commit == "":
		return nil, &pins.PromoteError{Reason: "no commit to check the image's provenance against: give --commit, or a --report that names one"}
	case !pins.IsCommit(c.Commit):
		return nil, &pins.PromoteError{Reason: fmt.Sprintf("commit %q is not a git commit id (40 or 64 lowercase hexadecimal digits)", termsafe.String(c.Commit))}
	case prov.Revision != c.Commit:
		revision := prov.Revision
		if revision == "" {
			revision = "no commit"
		}
		return nil, &pins.PromoteError{Reason: fmt.Sprintf("%s was built from %s, not from commit %s", c.Ref(), termsafe.String(revision), c.Commit)}
	case policy.Source != "" && prov.Source != policy.Source:
		return nil, &pins.PromoteError{Reason: fmt.Sprintf("%s was built from %q, not from %q", c.Ref(), termsafe.String(prov.Source), policy.Source)}
	}
	return prov, nil
}
