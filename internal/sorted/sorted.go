// Package sorted holds the one helper every stage needs for deterministic
// output: a map's keys in order.
package sorted

import (
	"cmp"
	"slices"
)

// Keys returns the keys of m, sorted.
func Keys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// UnionKeys returns the keys of a and b together, sorted, each once: what
// a comparison of two maps walks.
func UnionKeys[K cmp.Ordered, A, B any](a map[K]A, b map[K]B) []K {
	seen := make(map[K]bool, len(a)+len(b))
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	return Keys(seen)
}
