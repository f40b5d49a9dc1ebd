// Package render prints Kubernetes objects as the YAML or JSON a user reads
// and kubectl applies: the last stage of `envgen build`, and the encoder
// that package overlays uses for the files of the kustomize tree.
//
// Typed objects marshal with noise that nobody wrote (creationTimestamp:
// null, status: {}, resources: {}); render removes it so the output holds
// only what envgen.cue said.
package render
