package imagebuild

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"

	"envgen.dev/envgen/internal/termsafe"
)

// printer writes BuildKit's status stream as plain lines, in the form of
// `docker buildx build --progress=plain` (#3 [2/4] RUN make, then its
// output as #3 0.412 …), and counts the Dockerfile's steps and those that
// came from the cache. Every name and log line is the repository's and
// is escaped: a RUN step cannot drive the terminal or print a line that
// looks like envgen's.
type printer struct {
	w     io.Writer
	start time.Time
	// vertices by digest, numbered in the order they first appear.
	vertices map[digest.Digest]*vertex
	next     int
	// partial holds a vertex's log output up to its next newline.
	partial map[digest.Digest]*bytes.Buffer
	// failed is the first step that failed.
	failed string
}

type vertex struct {
	n                     int
	name                  string
	started, cached, done bool
	errored               bool
	startedAt             time.Time
	step                  bool
	logStart              time.Time
}

// dockerfileStep matches the names the Dockerfile frontend gives its
// instructions' vertices, "[2/4] RUN make", "[test 3/5] COPY . .", but
// FROM, which resolves the base image on every build and is never
// "cached": the steps are those that make layers.
var dockerfileStep = regexp.MustCompile(`^\[(?:[^\]]+ )?\d+/\d+\] (?:[^F]|F[^R]|FR[^O]|FRO[^M]|FROM[^ ])`)

func newPrinter(w io.Writer) *printer {
	return &printer{w: w, start: time.Now(), vertices: map[digest.Digest]*vertex{}, partial: map[digest.Digest]*bytes.Buffer{}}
}

func (p *printer) vertex(d digest.Digest, name string) *vertex {
	v, ok := p.vertices[d]
	if !ok {
		v = &vertex{name: name}
		p.vertices[d] = v
	}
	if name != "" {
		v.name = name
		v.step = dockerfileStep.MatchString(name)
	}
	return v
}

// number is the vertex's number in the output, given when it is first
// printed: the numbers follow the order of the lines.
func (p *printer) number(v *vertex) int {
	if v.n == 0 {
		p.next++
		v.n = p.next
	}
	return v.n
}

// handle prints one status update.
func (p *printer) handle(s *client.SolveStatus) {
	for _, sv := range s.Vertexes {
		v := p.vertex(sv.Digest, sv.Name)
		if !v.started && (sv.Started != nil || sv.Cached) {
			v.started = true
			if sv.Started != nil {
				v.startedAt = *sv.Started
			}
			p.printf("#%d %s\n", p.number(v), termsafe.String(v.name))
		}
		if sv.Cached && !v.cached {
			v.cached = true
			p.printf("#%d CACHED\n", p.number(v))
		}
		if sv.Error != "" && !v.errored {
			v.errored = true
			p.flush(sv.Digest, v)
			if strings.HasPrefix(v.name, "importing cache manifest from ") && strings.HasSuffix(sv.Error, "not found") {
				// The first build of a scope: nothing to import yet.
				p.printf("#%d no cache there yet\n", p.number(v))
				continue
			}
			p.printf("#%d ERROR: %s\n", p.number(v), termsafe.String(sv.Error))
			if p.failed == "" && v.step {
				p.failed = v.name
			}
		}
		if sv.Completed != nil && !v.done && sv.Error == "" {
			v.done = true
			p.flush(sv.Digest, v)
			if !v.cached {
				p.printf("#%d DONE %.1fs\n", p.number(v), sv.Completed.Sub(v.startedAt).Seconds())
			}
		}
	}
	for _, l := range s.Logs {
		v := p.vertex(l.Vertex, "")
		if v.logStart.IsZero() {
			v.logStart = l.Timestamp
		}
		buf := p.partial[l.Vertex]
		if buf == nil {
			buf = &bytes.Buffer{}
			p.partial[l.Vertex] = buf
		}
		buf.Write(l.Data)
		for {
			line, err := buf.ReadString('\n')
			if err != nil {
				// No newline yet: keep it, bounded (a build that never
				// ends a line must not grow this without limit).
				rest := []byte(line)
				if len(rest) > 64<<10 {
					p.logLine(v, l.Timestamp, string(rest))
					rest = nil
				}
				buf.Reset()
				buf.Write(rest)
				break
			}
			p.logLine(v, l.Timestamp, line[:len(line)-1])
		}
	}
	for _, w := range s.Warnings {
		v := p.vertex(w.Vertex, "")
		p.printf("#%d WARN: %s\n", p.number(v), termsafe.String(string(w.Short)))
	}
}

func (p *printer) logLine(v *vertex, at time.Time, line string) {
	p.printf("#%d %.3f %s\n", p.number(v), at.Sub(v.startedAtOr(at)).Seconds(), termsafe.String(line))
}

func (v *vertex) startedAtOr(t time.Time) time.Time {
	if v.startedAt.IsZero() {
		return v.logStart
	}
	return v.startedAt
}

// flush prints what a vertex's log holds after its last newline.
func (p *printer) flush(d digest.Digest, v *vertex) {
	if buf := p.partial[d]; buf != nil && buf.Len() > 0 {
		p.logLine(v, time.Now(), buf.String())
		buf.Reset()
	}
}

// steps counts the Dockerfile's steps the build went through and how many
// of them came from the cache.
func (p *printer) steps() (steps, cached int) {
	for _, v := range p.vertices {
		if v.step && v.started {
			steps++
			if v.cached {
				cached++
			}
		}
	}
	return steps, cached
}

func (p *printer) printf(format string, args ...any) {
	fmt.Fprintf(p.w, format, args...)
}
