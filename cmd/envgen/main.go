// Command envgen compiles one envgen.cue into the Kubernetes manifests of
// every environment of a service. See `envgen --help`.
package main

import (
	"os"
	"runtime/debug"

	"envgen.dev/envgen/cmd/envgen/cli"
)

func main() {
	// envgen's heap is small (about 10 MB for a build) and short-lived; a
	// collector that runs a little more often keeps the process's peak
	// memory under 60 MiB for a few milliseconds. GOGC still overrides it.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	os.Exit(cli.Main(nil)) // the cluster commands are envgen-cluster's
}
