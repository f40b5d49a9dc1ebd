// Package runner runs the ci environment of a service on a real cluster:
// the last stage of the data flow, for `envgen run`.
//
// It creates a namespace for one build (restricted Pod Security enforced,
// labelled as envgen's, with an expiry), applies the objects with
// server-side apply, waits for the test services and then for the build
// Pod by watching, streams the build's logs, and deletes the namespace on
// every path. It measures each phase: the provisioning overhead of CI on
// Kubernetes is what the timing report shows.
//
// The runner knows nothing of the command line: it takes a context,
// clients and writers, and returns a Report and typed errors that say why
// a build did not succeed (BuildFailedError, TimeoutError, ClusterError).
package runner
