// Command envgen-cluster runs envgen's commands that reach a cluster, a
// registry or BuildKit (run, image, promote, lock, gc, rbac, buildkit).
// envgen hands them over to it; it is installed beside envgen and not
// called by name. It also answers every other envgen command.
package main

import (
	"os"
	"runtime/debug"

	"envgen.dev/envgen/cmd/envgen/clustercli"
)

func main() {
	// As envgen's: a collector that runs a little more often keeps the
	// peak of a run's compile low. GOGC still overrides it.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	os.Exit(clustercli.Main())
}
