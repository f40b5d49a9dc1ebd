package vet_test

import (
	"fmt"
	"strings"
	"testing"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/vet"
)

// TestEveryRuleCanBeSwitchedOff: the schema's vet.off accepts exactly the
// IDs of vet.Rules.
func TestEveryRuleCanBeSwitchedOff(t *testing.T) {
	const head = "name: \"svc\"\nimage: \"registry.example.org/svc\"\ntag: \"1.0\"\n"
	ids := []string{"EG010"} // the invariants' rule, beside Rules
	for _, r := range vet.Rules {
		ids = append(ids, r.ID)
	}
	for _, id := range ids {
		src := head + fmt.Sprintf("vet: off: %s: \"switched off in a test\"\n", id)
		if _, err := compiler.Compile("envgen.cue", []byte(src), compiler.Options{}); err != nil {
			t.Errorf("%s cannot be switched off: %v", id, err)
		}
	}
	next := fmt.Sprintf("EG%03d", len(ids)+1) // IDs are numbered without gaps
	_, err := compiler.Compile("envgen.cue", []byte(head+"vet: off: "+next+": \"no such rule here\"\n"), compiler.Options{})
	if err == nil || !strings.Contains(err.Error(), "vet.off."+next+": field not allowed") {
		t.Errorf("an unknown rule %s was accepted: %v", next, err)
	}
}
