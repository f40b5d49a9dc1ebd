// Command kubeschema writes overlays/kubeschema.json: the part of
// kustomize's built-in Kubernetes OpenAPI schema that covers the kinds
// envgen generates, with every definition they reference. envgen's
// in-process kustomize reads it instead of the whole schema, which costs
// some 60 ms and 9 MB on every build; the merge keys and strategies in it
// are the built-in schema's own, which `go test ./hack/kubeschema` checks.
//
//	go run ./hack/kubeschema > overlays/kubeschema.json
package main

import (
	"fmt"
	"os"

	"envgen.dev/envgen/hack/kubeschema/trim"
)

func main() {
	data, err := trim.Schema()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubeschema:", err)
		os.Exit(1)
	}
	os.Stdout.Write(data)
}
