// Package imagebuild builds a service's image from its repository with
// BuildKit: the step of the data flow that comes before envgen run, so
// that a build tests the image made from the commit under test, pinned by
// its digest.
//
// The repository is untrusted input (a pull request's): the build context
// is walked and checked before anything is sent (its .dockerignore
// honoured, no link out of it, bounded in files and bytes), and BuildKit
// receives exactly the files that were checked, through a root that
// cannot be left. The daemon is BuildKit's own (buildkitd), reached by
// its address or through the Kubernetes API server (a port-forward to its
// Pod); the Dockerfile frontend is BuildKit's built-in one. The daemon
// pushes the image and a registry cache of its layers; the result is the
// pushed digest.
//
// Daemon prints the manifests a platform team applies to run buildkitd in
// its own namespace; ExpireTags removes old build tags from a registry.
package imagebuild
