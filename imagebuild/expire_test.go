package imagebuild

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Against go-containerregistry's registry: only envgen's build tags
// expire, by the time in the tag; the cache and a release's tags stay,
// and so does every image that another tag names (a promotion, a newer
// build of the same content). A registry that deletes tags (OCI 1.1)
// loses the old build tag alone; one that deletes images only keeps an
// image any other tag names.
func TestExpireTags(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	old, recent := now.Add(-30*24*time.Hour), now.Add(-time.Hour)
	type image struct {
		tags   []string
		expire bool // its build tags are expired, and nothing else keeps it
	}
	images := []image{
		{[]string{BuildTag("pr-1", old)}, true},
		{[]string{BuildTag("pr-2", old)}, true},
		{[]string{BuildTag("promoted", old), "production"}, false},
		{[]string{BuildTag("same", old), BuildTag("same", recent)}, false}, // unchanged code, built again
		{[]string{"2026-11-01-release"}, false},
		{[]string{BuildTag("recent", recent)}, false},
		{[]string{TrustedCacheTag}, false},
	}
	for _, tagDeletes := range []bool{true, false} {
		t.Run(map[bool]string{true: "tag deletes", false: "image deletes only"}[tagDeletes], func(t *testing.T) {
			handler := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodDelete && !tagDeletes && !strings.Contains(r.URL.Path, "sha256:") {
					http.Error(w, `{"errors":[{"code":"UNSUPPORTED"}]}`, http.StatusBadRequest)
					return
				}
				handler.ServeHTTP(w, r)
			}))
			defer srv.Close()
			repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/citoid")
			if err != nil {
				t.Fatal(err)
			}
			digests := make([]string, len(images))
			for i, im := range images {
				img, err := random.Image(64, 1)
				if err != nil {
					t.Fatal(err)
				}
				for _, tag := range im.tags {
					if err := remote.Write(repo.Tag(tag), img); err != nil {
						t.Fatal(err)
					}
				}
				d, _ := img.Digest()
				digests[i] = d.String()
			}

			verdicts, err := ExpireTags(context.Background(), ExpireOptions{Repository: repo.String(), OlderThan: 7 * 24 * time.Hour, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if len(verdicts) != 6 {
				t.Errorf("judged %+v: want envgen's 6 build tags", verdicts)
			}
			left, err := remote.List(repo)
			if err != nil {
				t.Fatal(err)
			}
			for i, im := range images {
				if !tagDeletes {
					// This registry keeps a deleted image's tags listed:
					// ask for the image.
					_, err := remote.Head(repo.Digest(digests[i]))
					if gone := err != nil; gone != im.expire {
						t.Errorf("%v: image gone %v, want %v", im.tags, gone, im.expire)
					}
					continue
				}
				// The tags go; an untagged image is the registry's GC's.
				for _, tag := range im.tags {
					expiredTag := strings.Contains(tag, "20261104")
					if listed := slices.Contains(left, tag); listed == expiredTag {
						t.Errorf("%s: listed %v after expiry", tag, listed)
					}
				}
			}
		})
	}
}

func TestBuildTag(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 30, 5, 0, time.FixedZone("CET", 3600))
	if got := BuildTag("jenkins/citoid #12", at); got != "envgen-20261204T183005Z-jenkins-citoid-12" {
		t.Errorf("got %s", got)
	}
	if got := BuildTag(strings.Repeat("x", 200), at); len(got) != 128 {
		t.Errorf("%d characters", len(got))
	}
}

// A registry that does not answer fails gc within the bound.
func TestExpireTagsBoundsItsWait(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	defer func(d time.Duration) { registryRequestTimeout = d }(registryRequestTimeout)
	registryRequestTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err := ExpireTags(context.Background(), ExpireOptions{Repository: strings.TrimPrefix(slow.URL, "http://") + "/citoid", Now: time.Now()})
	if err == nil {
		t.Fatal("no error from a registry that never answers")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %s", took)
	}
}
