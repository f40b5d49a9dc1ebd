package compiler

import (
	"testing"

	"cuelang.org/go/cue/cuecontext"

	"envgen.dev/envgen/schema"
)

// Every sample misses a pattern of its definition, so that its words are
// used: a pattern changed in the schema fails here until its sample and
// words follow.
func TestPatternSamplesFindTheirPatterns(t *testing.T) {
	ctx := cuecontext.New()
	s, err := schema.Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := &compilation{ctx: ctx, schema: s}
	words := map[string]string{}
	for _, sample := range patternSamples {
		pattern := c.missedPattern(sample.def, sample.bad)
		switch {
		case pattern == "":
			t.Errorf("%s: %q misses no pattern of it", sample.def, sample.bad)
		case words[pattern] != "" && words[pattern] != sample.words:
			t.Errorf("%s: pattern %s has two wordings: %q and %q", sample.def, pattern, words[pattern], sample.words)
		}
		words[pattern] = sample.words
	}
	if len(c.patternWords()) != len(words) {
		t.Errorf("patternWords has %d patterns, the samples %d", len(c.patternWords()), len(words))
	}
}
