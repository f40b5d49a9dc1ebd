// Package schema holds the CUE schema of envgen.cue, embedded in the binary
// so that envgen never reads or writes schema files in the user's repository.
//
// It is the first step of the data flow: CUE text is checked against
// this schema by package compiler before anything else happens.
package schema

import _ "embed"

// Source is the text of the schema, as printed by `envgen schema`.
//
//go:embed envgen.cue
var Source []byte

// Filename is the name under which the schema's positions are reported.
const Filename = "schema/envgen.cue"
