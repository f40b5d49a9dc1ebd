package compiler

import (
	"fmt"
	"strconv"

	"cuelang.org/go/cue"
)

// unprintable says whether r cannot be carried through YAML unchanged:
// control characters other than tab, newline and carriage return (some
// are refused by YAML encoders, U+0085 turns into a line break, others
// drive terminals), and the non-characters U+FFFE and U+FFFF.
func unprintable(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return false
	case r < 0x20, r >= 0x7f && r <= 0x9f, r == 0xfffe, r == 0xffff:
		return true
	}
	return false
}

// checkText refuses, at its position, any string (or field name) of the
// resolved value that YAML, JSON and the tree would not all carry
// unchanged.
func (c *compilation) checkText(env string, v cue.Value) error {
	var walk func(v cue.Value, path string) error
	walk = func(v cue.Value, path string) error {
		switch v.Kind() {
		case cue.StringKind:
			s, _ := v.String()
			if bad, at := firstUnprintable(s); bad {
				return c.textError(env, v, path, s, at)
			}
		case cue.StructKind:
			iter, _ := v.Fields()
			for iter != nil && iter.Next() {
				name := iter.Selector().Unquoted()
				field := join(path, Label(name))
				if bad, at := firstUnprintable(name); bad {
					return c.textError(env, iter.Value(), field, name, at)
				}
				if err := walk(iter.Value(), field); err != nil {
					return err
				}
			}
		case cue.ListKind:
			iter, _ := v.List()
			for i := 0; iter.Next(); i++ {
				if err := walk(iter.Value(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(v, "")
}

func firstUnprintable(s string) (bool, rune) {
	for _, r := range s {
		if unprintable(r) {
			return true, r
		}
	}
	return false, 0
}

func (c *compilation) textError(env string, v cue.Value, field, s string, r rune) error {
	msg := fmt.Sprintf("has the character %U (%s); control characters other than tab and newline, and U+FFFE/U+FFFF, cannot be carried unchanged into YAML", r, strconv.QuoteRuneToASCII(r))
	if env != "" {
		msg += fmt.Sprintf(" (in environment %s)", env)
	}
	return c.positionedError(v, field, msg)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
