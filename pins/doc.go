// Package pins carries tested images to production by digest, through
// review: it reads and writes envgen.lock.cue (the pins of each
// environment and where each came from), checks an image before it is
// promoted (it is in the registry, its SLSA provenance names the trusted
// builder and the commit, a run that tested it passed), and resolves the
// tags an environment still uses to digests (envgen lock).
//
// It sits beside the data flow's input: what it writes is a file of
// envgen.cue's package, which package compiler reads as one more layer of
// each environment; envgen generate then puts the digests into the tree
// a reviewer reads.
package pins
