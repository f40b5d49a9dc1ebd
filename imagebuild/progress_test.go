package imagebuild

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
)

func TestPrinter(t *testing.T) {
	var out bytes.Buffer
	p := newPrinter(&maskingWriter{w: &out, secrets: secretValues(map[string][]byte{"token": []byte("hunter22")})})
	at := time.Unix(100, 0)
	later := at.Add(1500 * time.Millisecond)
	from, run, copy, cache := digest.FromString("from"), digest.FromString("run"), digest.FromString("copy"), digest.FromString("cache")
	p.handle(&client.SolveStatus{Vertexes: []*client.Vertex{
		{Digest: from, Name: "[base 1/3] FROM registry/busybox:test", Started: &at, Completed: &at},
		{Digest: cache, Name: "importing cache manifest from registry/app:buildcache", Started: &at},
		{Digest: copy, Name: "[base 2/3] COPY src/ /src/", Started: &at, Completed: &at, Cached: true},
	}})
	p.handle(&client.SolveStatus{Vertexes: []*client.Vertex{
		{Digest: cache, Name: "importing cache manifest from registry/app:buildcache", Started: &at, Completed: &at, Error: "failed to configure registry cache importer: registry/app:buildcache: not found"},
		{Digest: run, Name: "[test 3/3] RUN make \x1b[2Jtest", Started: &at},
	}})
	p.handle(&client.SolveStatus{Logs: []*client.VertexLog{
		{Vertex: run, Data: []byte("line one\nenvgen: build passed\nthe token is hunter22\npart"), Timestamp: at.Add(250 * time.Millisecond)},
	}})
	p.handle(&client.SolveStatus{Vertexes: []*client.Vertex{
		{Digest: run, Name: "[test 3/3] RUN make \x1b[2Jtest", Started: &at, Completed: &later, Error: `process "/bin/sh -c make" did not complete successfully: exit code: 2`},
	}})
	want := `#1 [base 1/3] FROM registry/busybox:test
#1 DONE 0.0s
#2 importing cache manifest from registry/app:buildcache
#3 [base 2/3] COPY src/ /src/
#3 CACHED
#2 no cache there yet
#4 [test 3/3] RUN make \x1b[2Jtest
#4 0.250 line one
#4 0.250 envgen: build passed
#4 0.250 the token is ****
`
	got := out.String()
	if !strings.HasPrefix(got, want) {
		t.Errorf("got:\n%s\nwant it to start with:\n%s", got, want)
	}
	if !strings.Contains(got, "#4 ERROR: process \"/bin/sh -c make\" did not complete successfully: exit code: 2\n") || !strings.Contains(got, " part\n") {
		t.Errorf("the failure, or the partial line before it, is missing:\n%s", got)
	}
	if steps, cached := p.steps(); steps != 2 || cached != 1 {
		t.Errorf("steps %d cached %d, want 2 and 1 (FROM is no step)", steps, cached)
	}
	if p.failed != "[test 3/3] RUN make \x1b[2Jtest" {
		t.Errorf("failed step %q", p.failed)
	}
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "envgen:") {
			t.Errorf("a build's line passes for envgen's: %q", line)
		}
	}
}

// A secret of several lines (an .npmrc) and one with a trailing newline
// are masked line by line, as the printer writes them.
func TestMaskingMultilineSecrets(t *testing.T) {
	var out bytes.Buffer
	p := newPrinter(&maskingWriter{w: &out, secrets: secretValues(map[string][]byte{
		"npmrc": []byte("//registry.npmjs.org/:_authToken=npm_SECRETTOKEN123\nalways-auth=true\n"),
		"token": []byte("tok-abcdef\n"),
	})})
	at := time.Unix(100, 0)
	run := digest.FromString("run")
	p.handle(&client.SolveStatus{Vertexes: []*client.Vertex{{Digest: run, Name: "[1/1] RUN npm ci", Started: &at}}})
	p.handle(&client.SolveStatus{Logs: []*client.VertexLog{{Vertex: run, Timestamp: at,
		Data: []byte("cat .npmrc: //registry.npmjs.org/:_authToken=npm_SECRETTOKEN123\ntoken is tok-abcdef, retrying\n")}}})
	for _, leak := range []string{"npm_SECRETTOKEN123", "tok-abcdef"} {
		if strings.Contains(out.String(), leak) {
			t.Errorf("%s printed:\n%s", leak, out.String())
		}
	}
	if got := mask("step failed: tok-abcdef", secretValues(map[string][]byte{"t": []byte("tok-abcdef\n")})); got != "step failed: ****" {
		t.Errorf("mask: %q", got)
	}
}
