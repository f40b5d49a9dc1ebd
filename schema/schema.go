// Package schema holds the CUE schema of envgen.cue, embedded in the binary
// so that envgen never reads or writes schema files in the user's repository.
//
// It is the first step of the data flow: CUE text is checked against
// this schema by package compiler before anything else happens.
//
// The schema is one CUE package in several files, one concern each:
// service.cue (the whole of envgen.cue: environments, releases),
// settings.cue (what every layer may set), build.cue (the image build), pins.cue (digests per environment), pods.cue (containers, mounts,
// probes, jobs), network.cue, ci.cue (the build), resolved.cue (one
// environment after the merge) and types.cue (the shared scalar types).
package schema

import (
	"bytes"
	"embed"
	"fmt"
	"maps"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/parser"
)

//go:embed *.cue
var embedded embed.FS

// Files are the schema's files, in the order envgen schema prints them: from
// the whole of envgen.cue down to its scalar types.
var Files = []string{"service.cue", "settings.cue", "build.cue", "pins.cue", "pods.cue", "network.cue", "ci.cue", "resolved.cue", "types.cue"}

// Dir is the directory the schema's positions are reported in
// (schema/pods.cue:12:3), as the files are in envgen's repository.
const Dir = "schema/"

// IsFile says whether a position's file name is one of the schema's.
func IsFile(filename string) bool {
	name, ok := strings.CutPrefix(filename, Dir)
	return ok && slices.Contains(Files, name)
}

// Build compiles the schema in ctx.
func Build(ctx *cue.Context) (cue.Value, error) {
	inst := build.NewContext().NewInstance(strings.TrimSuffix(Dir, "/"), nil)
	for _, name := range Files {
		data, err := embedded.ReadFile(name)
		if err != nil {
			return cue.Value{}, err
		}
		file, err := parser.ParseFile(Dir+name, data, parser.ParseComments)
		if err != nil {
			return cue.Value{}, err
		}
		if err := inst.AddSyntax(file); err != nil {
			return cue.Value{}, err
		}
	}
	v := ctx.BuildInstance(inst)
	return v, v.Err()
}

// Source is the schema as one CUE file, as envgen schema prints it: the
// first file's comment and package clause, the imports of all files, then
// each file's declarations under a line naming the file.
func Source() []byte {
	var head, body bytes.Buffer
	imports := map[string]bool{}
	for i, name := range Files {
		data, _ := embedded.ReadFile(name) // Build reads the same files; tests build both
		file, err := parser.ParseFile(Dir+name, data, parser.ImportsOnly, parser.ParseComments)
		if err != nil {
			panic(fmt.Sprintf("envgen's embedded schema is broken: %v", err))
		}
		end := 0 // where the file's declarations start
		var intro []byte
		for _, d := range file.Decls {
			switch d := d.(type) {
			case *ast.Package:
				end = max(end, d.End().Offset())
				if i == 0 {
					head.Write(data[:end])
				} else {
					intro = data[:d.Pos().Offset()] // the file's comment
				}
			case *ast.ImportDecl:
				end = max(end, d.End().Offset())
				for _, spec := range d.Specs {
					imports[spec.Path.Value] = true
				}
			}
		}
		fmt.Fprintf(&body, "\n// ---- %s%s ----\n%s\n%s", Dir, name, intro, bytes.TrimLeft(data[end:], "\n"))
	}
	head.WriteString("\n\nimport (\n")
	for _, path := range slices.Sorted(maps.Keys(imports)) {
		fmt.Fprintf(&head, "\t%s\n", path)
	}
	head.WriteString(")\n")
	return append(head.Bytes(), body.Bytes()...)
}
