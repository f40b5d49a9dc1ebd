package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	seen := map[string]bool{}
	hinted := map[string]bool{}
	errs := withoutOtherKinds(withoutNullBranches(cueerrors.Errors(err)))
	lines, replaced := c.oneOfValues(env, cwd, errs)
	for _, e := range errs {
		if replaced[e] {
			continue
		}
		format, _ := e.Msg()
		field := cuePathString(e.Path())
		if isEnvVar(strings.Split(field, ".")) {
			if hinted[field] {
				continue
			}
			if strings.Contains(format, "empty disjunction") {
				hinted[field] = true
				// The disjunction has no position of its own; its parts do.
				at := e
				for _, other := range errs {
					if cuePathString(other.Path()) == field && len(cueerrors.Positions(other)) > 0 {
						at = other
						break
					}
				}
				lines = append(lines, c.positioned(cwd, at, field+": "+envVarHint))
				continue
			}
		}
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

// oneOfValues replaces CUE's account of a value outside an enumeration
// (a disjunction's summary, then one "conflicting values" line per
// option) with one error per field: "mirror" is not one of "shared",
// "own". It returns the errors it replaced, to skip.
func (c *compilation) oneOfValues(env, cwd string, errs []cueerrors.Error) (lines []string, replaced map[cueerrors.Error]bool) {
	type enum struct {
		options []string
		got     string
		at      cueerrors.Error
		errs    []cueerrors.Error
		mixed   bool
	}
	byField := map[string]*enum{}
	var order []string
	for _, e := range errs {
		field := cuePathString(e.Path())
		if isEnvVar(strings.Split(field, ".")) {
			continue
		}
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		en := byField[field]
		if en == nil {
			en = &enum{}
			byField[field] = en
			order = append(order, field)
		}
		en.errs = append(en.errs, e)
		switch m := enumMsg.FindStringSubmatch(msg); {
		case strings.Contains(msg, "errors in empty disjunction"):
		case m != nil && (en.got == "" || en.got == m[2]):
			en.options, en.got, en.at = append(en.options, m[1]), m[2], e
		default:
			en.mixed = true
		}
	}
	replaced = map[cueerrors.Error]bool{}
	for _, field := range order {
		en := byField[field]
		if en.mixed || len(en.options) < 2 {
			continue
		}
		for _, e := range en.errs {
			replaced[e] = true
		}
		slices.Sort(en.options)
		msg := fmt.Sprintf("%s is not one of %s", en.got, strings.Join(en.options, ", "))
		if env != "" {
			msg = fmt.Sprintf("%s (in %s): %s", field, DescribeScope(env), msg)
		} else {
			msg = field + ": " + msg
		}
		lines = append(lines, c.positioned(cwd, en.at, msg))
	}
	return lines, replaced
}

func (c *compilation) formatError(env, cwd string, e cueerrors.Error) string {
	format, args := e.Msg()
	field := cuePathString(e.Path())
	msg := fmt.Sprintf(format, shortArgs(args)...)
	// A long pattern is cut short in msg: its words are found by the
	// whole one.
	if full := fmt.Sprintf(format, args...); full != msg {
		if words := c.inWords(full); words != full && len(words) <= 2*maxArgLen+len(msg) {
			msg = words
		}
	}
	if strings.HasPrefix(msg, "error in call to ") {
		// A builtin's failure wraps the reason (conflicting values "info" and
		// "debug"); Msg has only the wrapper, Error has both.
		full := e.Error()
		if i := strings.Index(full, msg); i >= 0 && len(full) > i+len(msg) {
			msg = full[i:]
		}
	}
	if hint := oneOfHint(field); hint != "" && strings.Contains(msg, "does not satisfy matchN") {
		msg = hint
	}
	msg = typeHint(field, nullWords(field, c.inWords(plainWords(msg))))
	if msg == "field not allowed" {
		if hint := c.notAllowedHint(field); hint != "" {
			msg += ": " + hint
		}
	}
	if field != "" {
		if env != "" {
			msg = fmt.Sprintf("%s (in %s): %s", field, DescribeScope(env), msg)
		} else {
			msg = field + ": " + msg
		}
	} else if env != "" {
		msg = fmt.Sprintf("%s: %s", DescribeScope(env), msg)
	}

	line := c.positioned(cwd, e, msg)
	if strings.HasPrefix(line, c.filename+": ") {
		// No position of its own (a required field that is missing): the
		// closest enclosing field the user wrote is where to add it.
		if where := c.enclosing(cwd, env, field); where != "" {
			line = where + ": " + strings.TrimPrefix(line, c.filename+": ")
		}
	}
	return line
}

// enclosing is the position of the closest field around field that
// envgen.cue writes, in env's block first, then at the top level; "" if
// none.
func (c *compilation) enclosing(cwd, env, field string) string {
	if c.sources == nil || !c.sources.top.Exists() {
		return ""
	}
	for f := parent(field); f != ""; f = parent(f) {
		var candidates []string
		if env, release := splitScope(env); release != "" {
			candidates = append(candidates, "releases."+Label(release)+"."+f, "environments."+Label(env)+"."+f)
		} else if env != "" {
			candidates = append(candidates, "environments."+Label(env)+"."+f)
		}
		for _, path := range append(candidates, f) {
			p := cue.ParsePath(path)
			if p.Err() != nil {
				continue
			}
			if ps := userPositions(c.sources.top.LookupPath(p)); len(ps) > 0 {
				return relativePos(cwd, ps[0])
			}
		}
	}
	return ""
}

// positioned puts the user's positions of e around msg: the first in
// front, the others after it.
func (c *compilation) positioned(cwd string, e cueerrors.Error, msg string) string {
	// Only the user's positions: the schema's would change with every
	// edit of the schema and say nothing the message does not.
	var user []string
	for _, pos := range cueerrors.Positions(e) {
		if pos.IsValid() && !schema.IsFile(pos.Filename()) && pos.Filename() != "" {
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

// maxArgLen bounds how much of a value an error message quotes: the
// position says where the rest is.
const maxArgLen = 80

func shortArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a
		if s := fmt.Sprint(a); len(s) > maxArgLen {
			out[i] = s[:maxArgLen] + "…"
		}
	}
	return out
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
	if ps := userPositions(v); len(ps) > 0 {
		where = relativePos(cwd, ps[0])
	}
	return &InputError{Lines: []string{fmt.Sprintf("%s: %s: %s", where, field, msg)}}
}
