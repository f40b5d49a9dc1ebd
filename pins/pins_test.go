package pins

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/registrytest"
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

	prov, err := Check(ctx, Candidate{Repository: repo, Digest: good, Commit: commitA}, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if prov.BuilderID != trusted || prov.Revision != commitA || prov.Source != "https://gerrit.example.org/r/citoid" {
		t.Errorf("provenance %+v", prov)
	}
	for _, tc := range []struct {
		name   string
		cand   Candidate
		policy Policy
		want   string
	}{
		{"a pull request's image", Candidate{Repository: repo, Digest: pr, Commit: commitA}, Policy{}, "not by a daemon for trusted builds"},
		{"another commit", Candidate{Repository: repo, Digest: good, Commit: commitB}, Policy{}, "was built from " + commitA + ", not from commit " + commitB},
		{"another builder", Candidate{Repository: repo, Digest: good, Commit: commitA}, Policy{Builder: "other#trusted"}, `not "other#trusted"`},
		{"another source", Candidate{Repository: repo, Digest: good, Commit: commitA}, Policy{Source: "https://elsewhere"}, `not from "https://elsewhere"`},
		{"no provenance", Candidate{Repository: repo, Digest: plainDigest, Commit: commitA}, Policy{}, "no provenance: a single image"},
		{"not in the registry", Candidate{Repository: repo, Digest: "sha256:" + strings.Repeat("0", 64), Commit: commitA}, Policy{}, "not in the registry (404)"},
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
	var rerr *RegistryError
	if !errors.As(err, &rerr) || !strings.Contains(err.Error(), "did not answer within 300ms") {
		t.Errorf("slow registry: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %s", took)
	}
}

func TestLockFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	l := &Lock{}
	l.Set("production", "digest", "sha256:"+strings.Repeat("a", 64), compiler.PinSource{From: "r/citoid:envgen-x", Commit: commitA, Build: "main-7", Builder: trusted})
	l.Set("production", `containers."mesh-proxy".digest`, "sha256:"+strings.Repeat("b", 64), compiler.PinSource{From: "r/envoy:1.31"})
	l.Set("ci", `ci.services.db.digest`, "sha256:"+strings.Repeat("c", 64), compiler.PinSource{From: "r/postgres:16"})
	if err := l.Write(dir, "citoid"); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(filepath.Join(dir, FileName))
	back, err := ReadLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Write(dir, "citoid"); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(filepath.Join(dir, FileName))
	if string(first) != string(second) {
		t.Errorf("not deterministic:\n%s\n---\n%s", first, second)
	}
	for _, want := range []string{"// Code generated by envgen", "package citoid", `containers: "mesh-proxy": digest: "sha256:bbbb`, `ci: services: db: digest:`, `"containers.\"mesh-proxy\".digest": from: "r/envoy:1.31"`} {
		if !strings.Contains(string(first), want) {
			t.Errorf("missing %q in:\n%s", want, first)
		}
	}
	// The compiler reads it as part of envgen.cue's package.
	src := "package citoid\nname: \"citoid\"\nimage: \"r/citoid\"\ntag: \"1\"\ncontainers: \"mesh-proxy\": {kind: \"proxy\", image: \"r/envoy\", tag: \"1.31\"}\nci: {command: [\"t\"], services: db: {image: \"r/postgres\", tag: \"16\"}}\n"
	p, err := compiler.CompileSources([]compiler.Source{{Name: "envgen.cue", Data: []byte(src)}, {Name: FileName, Data: first}}, compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := p.Environment("production")
	if s.Digest != "sha256:"+strings.Repeat("a", 64) || s.Containers["mesh-proxy"].Digest != "sha256:"+strings.Repeat("b", 64) {
		t.Errorf("production %s %+v", s.Digest, s.Containers)
	}
	c, _ := p.Environment("ci")
	if c.CI.Services["db"].Digest != "sha256:"+strings.Repeat("c", 64) {
		t.Errorf("ci %+v", c.CI.Services)
	}
}

// What a report, a registry or a provenance says is not trusted to fit
// the lock file: a commit that is no commit, a control character, a build
// id past #Pinned's bound are refused before anything is written.
func TestCheckSource(t *testing.T) {
	for _, tc := range []struct {
		src  compiler.PinSource
		want string
	}{
		{compiler.PinSource{From: "r/x@sha256:a", Commit: "HEAD"}, "not a git commit id"},
		{compiler.PinSource{From: "r/x@sha256:a", Build: strings.Repeat("b", 300)}, "longer than 256"},
		{compiler.PinSource{From: "r/x@sha256:a", Build: "pr\x01-1"}, "not printable"},
		{compiler.PinSource{From: "r/x@sha256:a", Builder: "kube-pod://x\x1b[2J#trusted"}, `\x1b`},
	} {
		err := CheckSource(tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want …%s…", tc.src, err, tc.want)
		}
		if err != nil && strings.ContainsRune(err.Error(), 0x1b) {
			t.Errorf("the message carries an escape sequence: %q", err)
		}
	}
	if err := CheckSource(compiler.PinSource{From: "r/x:1", Commit: commitA, Build: "main-7", Builder: trusted}); err != nil {
		t.Error(err)
	}
}
