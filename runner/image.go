package runner

import (
	"context"
	"fmt"
	"strings"
)

// BuiltImage is the image a run built before it ran (envgen run with
// build: in envgen.cue): what the report says of it.
type BuiltImage struct {
	// Image is the tag it was pushed under; Digest its manifest's digest.
	Image  string `json:"image"`
	Digest string `json:"digest"`
	// Steps are the Dockerfile steps the build went through, Cached how
	// many came from a cache.
	Steps        int     `json:"steps"`
	Cached       int     `json:"cached"`
	ContextFiles int     `json:"contextFiles"`
	ContextBytes int64   `json:"contextBytes"`
	Seconds      float64 `json:"seconds"`
	// RanAs is the image the kubelet reported running the build
	// container (its imageID), and Checked whether its digest is Digest;
	// "" when the node reported none (kwok does not).
	RanAs   string `json:"ranAs,omitempty"`
	Checked bool   `json:"checked"`
}

// Prepare builds the image while the run makes the namespace and starts
// the test services, and returns the ci objects pinned to it. It gets the
// run's context (the timeout and signals end it, and the run's own
// failure).
type Prepare func(ctx context.Context) (image *BuiltImage, objects []map[string]any, err error)

// ContainerImage is the image one container of the run ran: the
// reference its Pod asked for and the digest the kubelet reported.
type ContainerImage struct {
	Pod       string `json:"pod"`
	Container string `json:"container"`
	Image     string `json:"image"`
	ImageID   string `json:"imageID,omitempty"`
}

// Digest is the sha256:… of an imageID (registry/repo@sha256:…, or the
// digest alone), "" if it has none.
func Digest(imageID string) string {
	if i := strings.LastIndex(imageID, "sha256:"); i >= 0 {
		return imageID[i:]
	}
	return ""
}

// imageRepository is a reference without its tag.
func imageRepository(ref string) string {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i]
	}
	return ref
}

// checkImage checks that the build container ran the image the run
// built, by the digest the kubelet reports (a node that reports none,
// kwok, is said in the report).
func (r *run) checkImage(b buildPod, res podResult) error {
	image := r.report.Image
	if image == nil {
		return nil
	}
	for _, ran := range res.images {
		if ran.Container != buildContainer(b.pod) || ran.ImageID == "" {
			continue
		}
		image.RanAs = ran.ImageID
		if Digest(ran.ImageID) != image.Digest {
			same := false
			if r.opts.SameImage != nil {
				var err error
				if same, err = r.opts.SameImage(r.ctx, ran.ImageID, imageRepository(image.Image), image.Digest); err != nil {
					return &ClusterError{Op: "checking the image that ran", Err: err}
				}
			}
			if !same {
				return &ClusterError{Op: "checking the image that ran", Err: fmt.Errorf("the node ran %s, not the image built (%s)", ran.ImageID, image.Digest)}
			}
		}
		image.Checked = true
	}
	return nil
}
