// Command envgen compiles one envgen.cue into the Kubernetes manifests of
// every environment of a service. See `envgen --help`.
package main

import (
	"os"

	"envgen.dev/envgen/cmd/envgen/cli"
)

func main() { os.Exit(cli.Main()) }
