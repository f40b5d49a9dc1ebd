package cli

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// profile writes a CPU profile of the whole command to the file that
// ENVGEN_CPUPROFILE names, and an allocation profile to ENVGEN_MEMPROFILE,
// for `go tool pprof bin/envgen <file>` (docs/CONTRIBUTING.md says how):
// of the process that does the work, the evaluating child where there is
// one. Neither is for users: a failure to write one is only reported.
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
