// Package registry is where pins meets an image registry: it resolves a
// tag to its digest (envgen lock), checks an image before it is promoted
// (it is there, and its SLSA provenance names the trusted builder and the
// commit), reads that provenance, and tags a promoted image.
//
// It is apart from package pins, which reads and writes envgen.lock.cue,
// so that the commands that only compile (envgen diff reads the lock) do
// not link a registry client.
package registry
