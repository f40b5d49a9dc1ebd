package compiler

import (
	"fmt"
	"path/filepath"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/parser"
)

// buildPackage parses the files and builds them as one CUE package, the
// way `cue export` reads the files of a directory: their top levels are
// unified, and a hidden field (_registry) or a definition of one file is
// visible in the others. The files are joined into one syntax tree whose
// nodes keep their own file's positions, so errors name the right file.
func (c *compilation) buildPackage(sources []Source) (cue.Value, error) {
	joined := &ast.File{Filename: sources[0].Name}
	var imports []ast.Decl
	seenImport := map[string]bool{}
	var rest []ast.Decl
	pkg := ""
	for i, s := range sources {
		file, err := parser.ParseFile(s.Name, s.Data, parser.ParseComments)
		if err != nil {
			return cue.Value{}, octalHint(c.inputError("", err))
		}
		if err := checkModeLiterals(file); err != nil {
			return cue.Value{}, err
		}
		name := file.PackageName()
		if i == 0 {
			pkg = name
		} else if name != pkg {
			return cue.Value{}, &InputError{Lines: []string{fmt.Sprintf("%s: package %q, but %s is package %q; the .cue files beside envgen.cue form one package (move others into a subdirectory)",
				s.Name, name, sources[0].Name, pkg)}}
		}
		for _, d := range file.Decls {
			switch d := d.(type) {
			case *ast.Package:
				if i == 0 {
					imports = append(imports, d)
				}
			case *ast.ImportDecl:
				for _, spec := range d.Specs {
					key := spec.Path.Value
					if spec.Name != nil {
						key = spec.Name.Name + " " + key
					}
					if !seenImport[key] {
						seenImport[key] = true
						imports = append(imports, &ast.ImportDecl{Specs: []*ast.ImportSpec{spec}})
					}
				}
			default:
				rest = append(rest, d)
			}
		}
	}
	joined.Decls = append(imports, rest...)
	inst := build.NewContext().NewInstance(filepath.Dir(c.filename), c.importer.load)
	if err := inst.AddSyntax(joined); err != nil {
		return cue.Value{}, c.inputError("", err)
	}
	completeErr := inst.Complete()
	if c.importer.err != nil {
		return cue.Value{}, c.importError()
	}
	if completeErr != nil {
		return cue.Value{}, c.inputError("", completeErr)
	}
	user := c.ctx.BuildInstance(inst)
	if err := user.Err(); err != nil {
		return cue.Value{}, c.inputError("", err)
	}
	return user, nil
}
