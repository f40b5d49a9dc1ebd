package pins

// Provenance is what an image's SLSA provenance (BuildKit's attestation,
// attest:provenance) says of where it came from.
type Provenance struct {
	// Image is the digest of the image manifest the attestation is about
	// (the one a node runs, in the index the build pushed).
	Image     string
	BuilderID string
	Source    string
	Revision  string
}
