package schema

import (
	"math/rand/v2"
	"strings"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	"k8s.io/apimachinery/pkg/util/validation"
)

// TestKeysAndValuesAsKubernetesValidatesThem: the schema's definitions for
// what ends up in a Kubernetes name, key or value accept exactly what
// kube-apiserver's own validation functions accept, over generated strings
// near every boundary (part lengths 62–64, prefixes near 253, empty parts,
// characters each part may or may not hold).
func TestKeysAndValuesAsKubernetesValidatesThem(t *testing.T) {
	ctx := cuecontext.New()
	s, err := Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oracles := []struct {
		def   string
		valid func(string) []string
	}{
		{"#LabelKey", validation.IsQualifiedName},
		{"#AnnotationKey", validation.IsQualifiedName},
		{"#LabelValue", validation.IsValidLabelValue},
		{"#NamespaceName", validation.IsDNS1123Label},
		{"#ObjectName", validation.IsDNS1123Subdomain},
	}
	rng := rand.New(rand.NewPCG(22, 2026))
	for _, o := range oracles {
		def := s.LookupPath(cue.ParsePath(o.def))
		accepted, refused := 0, 0
		for range 3000 {
			key := generatedKey(rng)
			want := len(o.valid(key)) == 0
			got := def.Unify(ctx.Encode(key)).Validate(cue.Concrete(true)) == nil
			if got != want {
				t.Errorf("%s %q: the schema accepts it %v, Kubernetes %v (%v)", o.def, key, got, want, o.valid(key))
			}
			if want {
				accepted++
			} else {
				refused++
			}
		}
		// The generator must reach both sides of every definition.
		if accepted < 100 || refused < 100 {
			t.Errorf("%s: %d accepted, %d refused: the generator misses a side", o.def, accepted, refused)
		}
	}
}

// generatedKey is an optional prefix of dot-separated parts and a name,
// each of a length near the limits Kubernetes sets, from characters that
// a part may or may not hold.
func generatedKey(rng *rand.Rand) string {
	lengths := []int{0, 1, 2, 5, 62, 63, 64}
	part := func(alphabet string) string {
		n := lengths[rng.IntN(len(lengths))]
		if rng.IntN(3) == 0 {
			n = rng.IntN(6) + 1
		}
		var b strings.Builder
		for range n {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	const lower = "abcdefghijklmnopqrstuvwxyz0123456789abcxyz019-"
	const any = "abcXYZ019-_."
	var b strings.Builder
	switch rng.IntN(4) {
	case 0: // no prefix
	case 1: // a long prefix, near 253
		for b.Len() < 230+rng.IntN(40) {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(strings.Repeat("a", 1+rng.IntN(63)))
		}
		b.WriteByte('/')
	default:
		for i := range rng.IntN(4) + 1 {
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(part(lower))
		}
		b.WriteByte('/')
	}
	if rng.IntN(2) == 0 {
		b.WriteString(part(lower))
	} else {
		b.WriteString(part(any))
	}
	if rng.IntN(20) == 0 {
		b.WriteString("/x") // two slashes
	}
	return b.String()
}
