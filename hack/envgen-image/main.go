// Command envgen-image assembles envgen's container image from a static
// binary (make image): pushed to a registry with --push, or written as an
// OCI image layout with --oci. No Docker, no daemon; the same binary gives
// the same digest.
//
//	go run ./hack/envgen-image --binary bin/envgen --push registry.example.org/tools/envgen:v1
//	go run ./hack/envgen-image --binary bin/envgen --oci bin/envgen-image
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"envgen.dev/envgen/internal/envgenimage"
)

func main() {
	binary := flag.String("binary", "bin/envgen", "the static envgen binary (make build), with envgen-cluster beside it")
	arch := flag.String("arch", runtime.GOARCH, "the binary's architecture")
	push := flag.String("push", "", "push the image to this reference (credentials from the Docker config)")
	insecure := flag.Bool("insecure", false, "the registry of --push speaks plain HTTP")
	oci := flag.String("oci", "", "write the image as an OCI image layout into this directory")
	flag.Parse()
	if (*push == "") == (*oci == "") {
		fmt.Fprintln(os.Stderr, "envgen-image: give --push REF or --oci DIR")
		os.Exit(2)
	}
	img, err := envgenimage.Build(*binary, *arch)
	if err == nil {
		err = write(img, *push, *insecure, *oci)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "envgen-image:", err)
		os.Exit(1)
	}
	digest, _ := img.Digest()
	fmt.Println(digest)
}

func write(img v1.Image, push string, insecure bool, oci string) error {
	if oci != "" {
		path, err := layout.Write(oci, empty.Index)
		if err != nil {
			return err
		}
		return path.AppendImage(img)
	}
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.ParseReference(push, opts...)
	if err != nil {
		return err
	}
	return remote.Write(ref, img, remote.WithAuthFromKeychain(authn.DefaultKeychain))
}
