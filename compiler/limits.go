package compiler

import (
	"fmt"

	"cuelang.org/go/cue/scanner"
	"cuelang.org/go/cue/token"
)

// MaxNesting bounds how deeply structs, lists and parentheses may nest. A
// service description needs a handful of levels; a bound keeps a broken or
// hostile file from making the parser and evaluator use memory in
// proportion to its depth.
const MaxNesting = 64

// MaxFields bounds the fields of envgen.cue (all files of its package
// together): every other limit holds per map or list, and this one keeps
// their product — 500 variables in each of 50 environments — from costing
// more than a second to evaluate.
const MaxFields = 10000

// scanLimits scans the source (tokens, so braces in strings do not count)
// and reports the first place nested deeper than MaxNesting.
// It also counts the fields (colons), before anything is parsed or
// evaluated.
func scanLimits(filename string, src []byte) (fields int, err error) {
	file := token.NewFile(filename, -1, len(src))
	var s scanner.Scanner
	s.Init(file, src, nil, 0)
	depth := 0
	for {
		pos, tok, _ := s.Scan()
		switch tok {
		case token.COLON:
			fields++
		case token.EOF:
			return fields, nil
		case token.LBRACE, token.LBRACK, token.LPAREN:
			depth++
			if depth > MaxNesting {
				return fields, &InputError{Lines: []string{fmt.Sprintf("%s:%d:%d: nested more than %d levels deep", filename, pos.Line(), pos.Column(), MaxNesting)}}
			}
		case token.RBRACE, token.RBRACK, token.RPAREN:
			depth--
		}
	}
}
