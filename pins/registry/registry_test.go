package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"envgen.dev/envgen/internal/registrytest"
	"envgen.dev/envgen/pins"
)

const (
	commitA = "0123456789abcdef0123456789abcdef01234567"
	commitB = "89abcdef0123456789abcdef0123456789abcdef"
	trusted = "kube-pod://buildkitd-trusted-0?namespace=buildkit#trusted"
)

// testRegistry is a registry behind basic auth with credentials in a
// Docker config the keychain finds, as docker login leaves them.
func testRegistry(t *testing.T) string {
	t.Helper()
	host := registrytest.Start(t, true)
	login(t, host, registrytest.User, registrytest.Password)
	return host
}

func login(t *testing.T, host, user, pass string) {
	t.Helper()
	dir := t.TempDir()
	if err := registrytest.DockerConfig(dir, host, user, pass); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
}

func pushBuilt(t *testing.T, ref, builder, commit string) string {
	t.Helper()
	d, err := registrytest.PushBuilt(ref, builder, commit)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCheckReadsBuildKitsProvenance(t *testing.T) {
	host := testRegistry(t)
	repo := host + "/citoid"
	ctx := context.Background()
	good := pushBuilt(t, repo+":envgen-20261204T120000Z-main-7", trusted, commitA)
	pr := pushBuilt(t, repo+":envgen-20261204T120000Z-pr-3", "kube-pod://buildkitd-0?namespace=buildkit#untrusted", commitA)
	plainDigest, err := registrytest.PushRandom(repo + ":plain")
	if err != nil {
		t.Fatal(err)
	}

	prov, err := Check(ctx, pins.Candidate{Repository: repo, Digest: good, Commit: commitA}, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if prov.BuilderID != trusted || prov.Revision != commitA || prov.Source != "https://gerrit.example.org/r/citoid" {
		t.Errorf("provenance %+v", prov)
	}
	for _, tc := range []struct {
		name   string
		cand   pins.Candidate
		policy Policy
		want   string
	}{
		{"a pull request's image", pins.Candidate{Repository: repo, Digest: pr, Commit: commitA}, Policy{}, "not by a daemon for trusted builds"},
		{"another commit", pins.Candidate{Repository: repo, Digest: good, Commit: commitB}, Policy{}, "was built from " + commitA + ", not from commit " + commitB},
		{"another builder", pins.Candidate{Repository: repo, Digest: good, Commit: commitA}, Policy{Builder: "other#trusted"}, `not "other#trusted"`},
		{"another source", pins.Candidate{Repository: repo, Digest: good, Commit: commitA}, Policy{Source: "https://elsewhere"}, `not from "https://elsewhere"`},
		{"no provenance", pins.Candidate{Repository: repo, Digest: plainDigest, Commit: commitA}, Policy{}, "no provenance: a single image"},
		{"not in the registry", pins.Candidate{Repository: repo, Digest: "sha256:" + strings.Repeat("0", 64), Commit: commitA}, Policy{}, "not in the registry (404)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(ctx, tc.cand, tc.policy)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want …%s…", err, tc.want)
			}
		})
	}
}

// A registry that refuses envgen's credentials, or does not answer in
// time, is named with what to do, within the bound.
func TestRegistryFailuresAreClear(t *testing.T) {
	host := testRegistry(t)
	login(t, host, "envgen", "wrong")
	_, err := Resolve(context.Background(), host+"/citoid:1.0")
	if err == nil || !strings.Contains(err.Error(), "refused envgen's credentials (401)") {
		t.Errorf("wrong password: %v", err)
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	defer func(d time.Duration) { RequestTimeout = d }(RequestTimeout)
	RequestTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err = Resolve(context.Background(), strings.TrimPrefix(slow.URL, "http://")+"/citoid:1.0")
	var rerr *Error
	if !errors.As(err, &rerr) || !strings.Contains(err.Error(), "did not answer within 300ms") {
		t.Errorf("slow registry: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %s", took)
	}
}
