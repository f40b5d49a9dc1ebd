// Package difftest holds envgen to its central promise on inputs nobody
// picked by hand: for every generated envgen.cue (package casegen, a fixed
// seed, a few hundred cases per run), the committed tree that `envgen
// generate` writes is what `envgen build` prints, byte for byte, as stock
// kustomize builds it from disk; it is exactly the objects envgen compiled;
// and kube-apiserver (server-side dry-run on the test control plane, in a
// namespace enforcing the Pod Security Standard "restricted") accepts
// every object of every environment without a warning.
//
//	ENVGEN_DIFF_CASES=2000 ENVGEN_DIFF_SEED=7 go test ./difftest
//
// runs more, or other, cases; `make fuzz` does.
package difftest
