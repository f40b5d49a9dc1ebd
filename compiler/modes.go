package compiler

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
)

// checkModeLiterals refuses a file mode written as octal digits in
// decimal: `mode: 444` is 0o674 (group-writable, executable), not what
// the writer meant, and CUE takes it silently. envgen's own `mode` fields are written in octal
// (0o444); so is anything 0 to 7, the same in both. Inside patches and
// objects, Kubernetes' own fields (defaultMode, items[].mode) are decimal
// as in YAML, and left alone.
func checkModeLiterals(file *ast.File) error {
	var found *ast.BasicLit
	var field []string
	var walk func(decls []ast.Decl)
	walk = func(decls []ast.Decl) {
		for _, d := range decls {
			f, ok := d.(*ast.Field)
			if !ok || found != nil {
				continue
			}
			name, _, _ := ast.LabelName(f.Label)
			if name == "patches" || name == "objects" {
				continue
			}
			field = append(field, Label(name))
			switch v := f.Value.(type) {
			case *ast.StructLit:
				if walk(v.Elts); found != nil {
					return
				}
			case *ast.BasicLit:
				if name == "mode" && v.Kind == token.INT && decimalMode(v.Value) {
					found = v
					return
				}
			}
			field = field[:len(field)-1]
		}
	}
	walk(file.Decls)
	if found == nil {
		return nil
	}
	n, _ := strconv.ParseInt(strings.ReplaceAll(found.Value, "_", ""), 10, 64)
	cwd, _ := os.Getwd()
	return &InputError{Lines: []string{fmt.Sprintf("%s: %s: mode %s is decimal, which is 0o%o; write the mode in octal: 0o%s if that is what %s means, 0o%o if it is the decimal of a Kubernetes manifest",
		relativePos(cwd, found.Pos()), strings.Join(field, "."), found.Value, n, strings.ReplaceAll(found.Value, "_", ""), found.Value, n)}}
}

// decimalMode says whether an integer literal is decimal, above 7 and
// written with octal digits only: 444 is meant as 0o444; 292 (a mode
// in JSON, which has no octal) is meant as written.
func decimalMode(lit string) bool {
	if strings.HasPrefix(lit, "0o") || strings.HasPrefix(lit, "0x") || strings.HasPrefix(lit, "0b") {
		return false
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(lit, "_", ""), 10, 64)
	return err == nil && n > 7 && strings.Trim(lit, "01234567_") == ""
}

// octalHint adds to CUE's "illegal integer number" (0444, C's octal) how
// CUE writes it.
func octalHint(err error) error {
	if input, ok := err.(*InputError); ok {
		for i, line := range input.Lines {
			if strings.HasSuffix(line, "illegal integer number") {
				input.Lines[i] = line + ": CUE writes octal numbers 0o444, not 0444"
			}
		}
	}
	return err
}
