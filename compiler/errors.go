package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"cuelang.org/go/cue"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"

	"envgen.dev/envgen/schema"
)

// InputError says that envgen.cue is invalid. Each line names a position
// (file:line:col), the field path and what is wrong.
type InputError struct {
	Lines []string
}

func (e *InputError) Error() string { return strings.Join(e.Lines, "\n") }

// FileError says that a file could not be read.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string {
	if os.IsNotExist(e.Err) {
		return fmt.Sprintf("%s: no such file (is this the service's repository? envgen looks for envgen.cue)", e.Path)
	}
	return fmt.Sprintf("reading %s: %v", e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// UnknownEnvironmentError names an environment that envgen.cue does not have.
type UnknownEnvironmentError struct {
	Name  string
	Known []string
}

func (e *UnknownEnvironmentError) Error() string {
	return fmt.Sprintf("unknown environment %q (envgen.cue has: %s)", e.Name, strings.Join(e.Known, ", "))
}

// inputError turns CUE errors into an *InputError whose lines put the
// user's positions first. env names the environment being resolved ("" for
// the top level), because the merged paths do not mention it.
func (c *compilation) inputError(env string, err error) error {
	cwd, _ := os.Getwd()
	var lines []string
	seen := map[string]bool{}
	for _, e := range cueerrors.Errors(err) {
		line := c.formatError(env, cwd, e)
		if !seen[line] {
			seen[line] = true
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		lines = []string{fmt.Sprintf("%s: %v", c.filename, err)}
	}
	return &InputError{Lines: lines}
}

func (c *compilation) formatError(env, cwd string, e cueerrors.Error) string {
	format, args := e.Msg()
	msg := fmt.Sprintf(format, args...)
	field := cuePathString(e.Path())
	if field != "" {
		if env != "" {
			msg = fmt.Sprintf("%s (in environment %s): %s", field, env, msg)
		} else {
			msg = field + ": " + msg
		}
	} else if env != "" {
		msg = fmt.Sprintf("environment %s: %s", env, msg)
	}

	// Only the user's positions: the schema's would change with every
	// edit of the schema and say nothing the message does not.
	var user []string
	for _, pos := range cueerrors.Positions(e) {
		if pos.IsValid() && pos.Filename() != schema.Filename {
			user = appendNew(user, relativePos(cwd, pos))
		}
	}
	where := c.filename
	if len(user) > 0 {
		where = user[0]
		if len(user) > 1 {
			msg += " (also " + strings.Join(user[1:], ", ") + ")"
		}
	}
	return where + ": " + msg
}

// cuePathString drops the schema's definition names from a path: the user
// wrote "ports.http", not "#Service.ports.http".
func cuePathString(path []string) string {
	var kept []string
	for _, p := range path {
		if strings.HasPrefix(p, "#") {
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, ".")
}

func relativePos(cwd string, pos token.Pos) string {
	name := pos.Filename()
	if cwd != "" && filepath.IsAbs(name) {
		if rel, err := filepath.Rel(cwd, name); err == nil && !strings.HasPrefix(rel, "..") {
			name = rel
		}
	}
	return fmt.Sprintf("%s:%d:%d", name, pos.Line(), pos.Column())
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// positionedError reports a problem found in Go at the user's position of v.
func (c *compilation) positionedError(v cue.Value, field, msg string) error {
	cwd, _ := os.Getwd()
	where := c.filename
	if pos := c.userPos(v); pos.IsValid() {
		where = relativePos(cwd, pos)
	}
	return &InputError{Lines: []string{fmt.Sprintf("%s: %s: %s", where, field, msg)}}
}

// userPos finds where the user (not the schema) wrote v.
func (c *compilation) userPos(v cue.Value) token.Pos {
	if pos := v.Pos(); pos.IsValid() && pos.Filename() != schema.Filename {
		return pos
	}
	_, args := v.Expr()
	for _, arg := range args {
		if pos := arg.Pos(); pos.IsValid() && pos.Filename() != schema.Filename {
			return pos
		}
	}
	return token.NoPos
}
