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
