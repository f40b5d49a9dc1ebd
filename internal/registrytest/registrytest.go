// Package registrytest serves a real OCI registry (go-containerregistry's)
// for tests, and pushes images to it as BuildKit pushes them: an image
// index with an attestation manifest holding a SLSA v1 provenance.
package registrytest

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// T is what the helpers need of a test.
type T interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
}

// User and Password are what the registry asks for when it asks.
const (
	User     = "envgen"
	Password = "secret"
)

// Start serves a registry on 127.0.0.1 until the test ends and returns
// its host:port. With auth it wants basic auth (User, Password).
func Start(t T, auth bool) string {
	t.Helper()
	handler := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); auth && (!ok || user != User || pass != Password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// DockerConfig writes a Docker config directory with credentials for
// host, as docker login leaves them; point DOCKER_CONFIG at it.
func DockerConfig(dir, host, user, pass string) error {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	config := `{"auths": {"` + host + `": {"auth": "` + auth + `"}}}`
	return os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o600)
}

var basic = &authn.Basic{Username: User, Password: Password}

// PushBuilt pushes, as ref, an image as BuildKit pushes one with
// attest:provenance: an index of a random image and an attestation
// manifest whose in-toto layer is a SLSA v1 provenance naming builder and
// commit. It returns the index's digest.
func PushBuilt(ref, builder, commit string) (string, error) {
	img, err := random.Image(256, 1)
	if err != nil {
		return "", err
	}
	imgDigest, err := img.Digest()
	if err != nil {
		return "", err
	}
	statement, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v0.1",
		"predicateType": "https://slsa.dev/provenance/v1",
		"subject":       []any{map[string]any{"name": "pkg:docker/image", "digest": map[string]string{"sha256": imgDigest.Hex}}},
		"predicate": map[string]any{"runDetails": map[string]any{
			"builder":  map[string]string{"id": builder},
			"metadata": map[string]any{"buildkit_metadata": map[string]any{"vcs": map[string]string{"source": "https://gerrit.example.org/r/citoid", "revision": commit}}},
		}},
	})
	if err != nil {
		return "", err
	}
	att, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:       static.NewLayer(statement, "application/vnd.in-toto+json"),
		Annotations: map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v1"},
	})
	if err != nil {
		return "", err
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": imgDigest.String()},
		}},
	)
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", err
	}
	if err := remote.WriteIndex(tag, idx, remote.WithAuth(basic)); err != nil {
		return "", err
	}
	d, err := idx.Digest()
	return d.String(), err
}

// PushRandom pushes a random single image as ref and returns its digest.
func PushRandom(ref string) (string, error) {
	img, err := random.Image(64, 1)
	if err != nil {
		return "", err
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", err
	}
	if err := remote.Write(tag, img, remote.WithAuth(basic)); err != nil {
		return "", err
	}
	d, err := img.Digest()
	return d.String(), err
}
