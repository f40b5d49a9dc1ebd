package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/casegen"
	"envgen.dev/envgen/pipeline"
)

// BenchmarkManyServices measures `envgen generate dir/...` over a corpus
// of services — the six examples and services the differential generator
// writes (every field, many environments), in equal turns — at each size
// of ENVGEN_BENCH_MANY (default 150, Wikimedia's size, and 600, for
// linearity), against stock `kustomize build` of every overlay written at
// the first size, two at a time as envgen runs two services at a time on
// two cores. Target: 150 services in ≤ 10 s on 2 cores, and time per
// service flat as the corpus grows.
func BenchmarkManyServices(b *testing.B) {
	envgen, kustomize := binary(b, "envgen"), binary(b, "kustomize")
	buildMaxRSS(b)
	sizes := []int{150, 600}
	if s := os.Getenv("ENVGEN_BENCH_MANY"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				b.Fatalf("ENVGEN_BENCH_MANY=%q: %v", s, err)
			}
			sizes = append(sizes, n)
		}
	}
	for k, size := range sizes {
		b.Run(fmt.Sprintf("services-%d", size), func(b *testing.B) {
			root := corpus(b, size)
			var generate, stock time.Duration
			var peak int64
			for i := 0; i < b.N; i++ {
				d, p := run(b, envgen, "generate", "--allow-findings", root+"/...")
				generate += d
				peak = max(peak, p)
				if k == 0 {
					stock += kustomizeAll(b, kustomize, root)
				}
			}
			n := float64(b.N)
			b.ReportMetric(float64(generate.Milliseconds())/n, "generate-ms/op")
			b.ReportMetric(float64(generate.Milliseconds())/n/float64(size), "ms/service")
			b.ReportMetric(float64(peak)/(1<<20), "generate-peak-MiB")
			if stock > 0 {
				b.ReportMetric(float64(stock.Milliseconds())/n, "kustomize-all-overlays-ms/op")
				b.ReportMetric(float64(generate)/float64(stock), "envgen/stock")
			}
		})
	}
}

// corpus writes size services under a new directory: the examples and
// generated services that envgen accepts, in turns.
func corpus(b *testing.B, size int) string {
	b.Helper()
	root := b.TempDir()
	examples, _ := filepath.Glob(filepath.Join("..", "examples", "*", "envgen.cue"))
	seed := uint64(20261205)
	for i := 0; i < size; i++ {
		var src []byte
		if i%2 == 0 {
			data, err := os.ReadFile(examples[(i/2)%len(examples)])
			if err != nil {
				b.Fatal(err)
			}
			src = data
		} else {
			for {
				c := casegen.New(seed)
				seed++
				if _, err := pipeline.LoadSource("envgen.cue", c.Source, compiler.Options{}); err == nil {
					src = c.Source
					break
				}
			}
		}
		dir := filepath.Join(root, fmt.Sprintf("service-%04d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "envgen.cue"), src, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

// kustomizeAll builds every overlay under root with stock kustomize, two at
// a time, and returns the wall time.
func kustomizeAll(b *testing.B, kustomize, root string) time.Duration {
	overlays, _ := filepath.Glob(filepath.Join(root, "*", "deploy", "overlays", "*"))
	if len(overlays) == 0 {
		b.Fatal("no overlays written")
	}
	start := time.Now()
	work := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for overlay := range work {
				if out, err := exec.Command(kustomize, "build", overlay).CombinedOutput(); err != nil {
					mu.Lock()
					failed = fmt.Errorf("kustomize build %s: %v\n%s", overlay, err, out)
					mu.Unlock()
				}
			}
		}()
	}
	for _, o := range overlays {
		work <- o
	}
	close(work)
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
	return time.Since(start)
}
