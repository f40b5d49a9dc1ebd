package realnode

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// imageBenchStat is one scenario's two ways, median and p95.
type imageBenchStat struct {
	scenario      string
	plain, envgen stat
	n             int
}

var imageBenchScenarios = []string{"cold", "no change", "one file changed", "CI job"}

func summarizeImageBench(samples []imageBenchKind) []imageBenchStat {
	var out []imageBenchStat
	for _, sc := range imageBenchScenarios {
		var plain, envgen []time.Duration
		for _, s := range samples {
			if s.scenario != sc {
				continue
			}
			if s.way == "plain" {
				plain = append(plain, s.took)
			} else {
				envgen = append(envgen, s.took)
			}
		}
		out = append(out, imageBenchStat{scenario: sc, plain: statOf(plain), envgen: statOf(envgen), n: len(envgen)})
	}
	return out
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// imageBuildReport is docs/image-build-report.md.
func imageBuildReport(sum []imageBenchStat, disk []diskSample, tagsBefore, tagsAfter, rounds int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Image builds in the cluster: envgen against BuildKit's own client

<!-- Written by make spike-report (e2e/realnode BenchmarkImageBuild). Do not edit by hand. -->

Measured %s on %d cores (%s/%s) with the project's real test node (kubelet v1.37.2, containerd 1.6,
runc) and BuildKit v0.34.2's buildkitd running as `+"`envgen buildkit`"+` prints it, in a Pod on that node,
pushing to a registry on the machine. The service: a Dockerfile of a base stage (a step that writes
8 MB), the source copied in, and a test stage (4 steps that make layers).

- **plain**: `+"`buildctl build`"+` straight to the daemon's port, with the same target, build argument,
  image push and registry cache import and export (mode=max) as envgen;
- **envgen**: `+"`envgen image`"+` (a process: compile envgen.cue, check the context, port-forward through
  the API server, build, push), and for the CI job `+"`envgen run`"+` (that, then the test in a Pod
  of its own namespace, pinned to the digest built, logs, cleanup);
- **CI job, plain**: `+"`buildctl build`"+` + `+"`ctr images pull`"+` + `+"`ctr run --rm`"+` of the test on the same containerd.

%d rounds; in each, the two ways take turns building first (a round's first build is cold; the other
way then finds its cache, so "cold" has one sample per way per two rounds).

## Result

| scenario | plain median | envgen median | envgen p95 | envgen − plain |
|---|---:|---:|---:|---:|
`, time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, rounds)
	for _, s := range sum {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | **%s** |\n", s.scenario, ms(s.plain.median), ms(s.envgen.median), ms(s.envgen.p95), ms(s.envgen.median-s.plain.median))
	}
	var warm, job imageBenchStat
	for _, s := range sum {
		switch s.scenario {
		case "no change":
			warm = s
		case "CI job":
			job = s
		}
	}
	fmt.Fprintf(&b, `
Targets: envgen adds at most 1 s to the plain way per job (here %s on the CI job), and a warm build
with no change takes at most 2 s (here %s).

## The daemon's disk over 20 builds, with and without GC

Each build adds 8 MB of fresh layers (a build argument changes its one step). One daemon keeps
everything (`+"`--max-used-space 100Gi`"+`, never reached); the other is bounded at 40 MiB
(`+"`--max-used-space 40Mi`"+`): BuildKit sweeps a minute after a build.

| after build | without GC | with GC (40 MiB) |
|---:|---:|---:|
`, ms(job.envgen.median-job.plain.median), ms(warm.envgen.median))
	for _, d := range disk {
		label := fmt.Sprint(d.build)
		if d.build < 0 {
			label = "the sweep after the last"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", label, mib(d.noGC), mib(d.gc))
	}
	if n := len(disk); n > 1 {
		peak := int64(0)
		for _, d := range disk[:n-1] {
			peak = max(peak, d.gc)
		}
		fmt.Fprintf(&b, `
The bound holds at the sweep, not between sweeps: BuildKit sweeps at most once a minute, a minute
after a build, so builds in quick succession take the bounded daemon to %s before the sweep brings
it to %s. Size --max-used-space for the builds of a minute on top of the cache to keep.
`, mib(peak), mib(disk[n-1].gc))
	}
	fmt.Fprintf(&b, `
## Build tags in the registry

The benchmark's repository held %d build tags (envgen-<time>-<build id>, pushed by envgen image and
envgen run) before `+"`envgen gc --registry … --tags-older-than 0s`"+`, and %d after; its cache tags
(buildcache-untrusted) and buildctl's own tags stay. The layers of deleted manifests are the
registry's garbage collection's.

## Reading it

- envgen's share of an image build is the process start and compile, the walk of the build context
  (checked: no link out, bounded) and the port-forward through the API server; BuildKit does the
  build, the push and the cache, the same for both ways.
- A warm build with no change is the registry cache's manifests fetched, every step found in the
  daemon's cache, and the image manifest pushed again: no layer moves.
- Images pulled onto the node for a build's Pod are the kubelet's to collect (imageGC, from
  imageGCHighThresholdPercent); the test node disables it (100 %%), a real node's default is 85 %%.

The numbers come from `+"`make spike-report`"+`, which rewrites this file and docs/spike-report.md.
`, tagsBefore, tagsAfter)
	return b.String()
}
