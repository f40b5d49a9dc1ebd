// Command envgen compiles one envgen.cue into the Kubernetes manifests of
// every environment of a service. See `envgen --help`.
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"

	"envgen.dev/envgen/cmd/envgen/cli"
)

func main() {
	// envgen's heap is small (about 10 MB for a build) and short-lived; a
	// collector that runs a little more often keeps the process's peak
	// memory under 60 MiB for a few milliseconds. GOGC still overrides it.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	stop := profile()
	code := cli.Main()
	stop()
	os.Exit(code)
}

// profile writes a CPU profile of the whole command to the file that
// ENVGEN_CPUPROFILE names, and an allocation profile to ENVGEN_MEMPROFILE,
// for `go tool pprof bin/envgen <file>` (docs/CONTRIBUTING.md says how).
// Neither is for users: a failure to write one is only reported.
func profile() (stop func()) {
	cpu, mem := os.Getenv("ENVGEN_CPUPROFILE"), os.Getenv("ENVGEN_MEMPROFILE")
	var cpuFile *os.File
	if cpu != "" {
		f, err := os.Create(cpu)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "envgen: ENVGEN_CPUPROFILE:", err)
		} else {
			cpuFile = f
		}
	}
	return func() {
		if cpuFile != nil {
			pprof.StopCPUProfile()
			cpuFile.Close()
		}
		if mem != "" {
			f, err := os.Create(mem)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "envgen: ENVGEN_MEMPROFILE:", err)
			}
		}
	}
}
