package compiler

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
)

// Organisation defaults: envgen.cue may import CUE packages that a
// platform team publishes (a registry, a mesh sidecar, standard network
// rules), from the CUE module beside it, the classic way: the directory
// of envgen.cue holds cue.mod/module.cue, and an imported package is
//
//   - a subdirectory of that module, when the import path starts with the
//     module path module.cue declares, or
//   - a copy under cue.mod/pkg/<import path> (vendored: `cue mod vendor`,
//     a git submodule, a CI step that copies it).
//
// Nothing is fetched: envgen runs in CI on code from pull requests, and a
// build must not depend on the network or on what a registry serves that
// day. The files are read as envgen.cue is: bounded, regular files only,
// never through a link, all of them together within the package's limits.

// maxImportedPackages bounds how many packages one compile may import.
const maxImportedPackages = 20

// importPathPattern is what envgen accepts as an import path: slash-
// separated elements of letters, digits, '.', '_', '-', the first with a
// dot (a domain, as CUE wants of module paths), and an optional :package.
var importPathPattern = regexp.MustCompile(`^[A-Za-z0-9][-_A-Za-z0-9]*(\.[-_A-Za-z0-9]+)+(/[-_.A-Za-z0-9]+)*(:[A-Za-z_][A-Za-z0-9_]*)?$`)

// packageImporter loads the packages envgen.cue imports.
type packageImporter struct {
	root   string // the directory of envgen.cue; "" when compiling from memory
	module string // the module path of cue.mod/module.cue; "" when there is none
	budget *int   // bytes and fields left to read, shared with envgen.cue's
	fields *int
	// packages are those loaded, by import path: a package two others
	// import is read once. loading are those being loaded, in order: an
	// import of one of them is a cycle.
	packages map[string]*build.Instance
	loading  []string
	err      error // the first import that failed, reported by the compile
	errorPos token.Pos
}

// isStandardLibrary says whether an import path names a package of CUE's
// standard library: their first element has no dot.
func isStandardLibrary(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// newPackageImporter reads cue.mod/module.cue in root, if there is one.
func newPackageImporter(root string, budget, fields *int) (*packageImporter, error) {
	im := &packageImporter{root: root, budget: budget, fields: fields, packages: map[string]*build.Instance{}}
	if root == "" {
		return im, nil
	}
	moduleFile := filepath.Join(root, "cue.mod", "module.cue")
	if _, err := os.Lstat(moduleFile); errors.Is(err, os.ErrNotExist) {
		return im, nil
	}
	if err := noLinks(root, filepath.Join("cue.mod", "module.cue")); err != nil {
		return nil, err
	}
	data, err := im.read(moduleFile)
	if err != nil {
		return nil, err
	}
	file, err := parser.ParseFile(moduleFile, data)
	if err != nil {
		return nil, &InputError{Lines: []string{err.Error()}}
	}
	for _, d := range file.Decls {
		if f, ok := d.(*ast.Field); ok {
			if name, _, _ := ast.LabelName(f.Label); name == "module" {
				if lit, ok := f.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					im.module = strings.Trim(lit.Value, `"`)
					im.module, _, _ = strings.Cut(im.module, "@") // module: "example.org/wmf@v0"
				}
			}
		}
	}
	if im.module == "" {
		return nil, &InputError{Lines: []string{fmt.Sprintf("%s: no module path (module: \"example.org/team\")", moduleFile)}}
	}
	return im, nil
}

// load is the build.LoadFunc of envgen.cue's package: the standard library
// is CUE's own (nil); any other path is looked up as the package comment
// above says, or recorded as the compile's error.
func (im *packageImporter) load(pos token.Pos, importPath string) *build.Instance {
	if isStandardLibrary(importPath) {
		return nil
	}
	inst, err := im.loadPackage(importPath)
	if err != nil {
		if im.err == nil {
			im.err, im.errorPos = err, pos
		}
		inst = build.NewContext().NewInstance("", nil)
		inst.Err = nil // reported by the compile, once, at pos
		inst.PkgName = packageName(importPath)
	}
	return inst
}

func (im *packageImporter) loadPackage(importPath string) (*build.Instance, error) {
	if !importPathPattern.MatchString(importPath) || slices.ContainsFunc(strings.Split(importPath, "/"), func(e string) bool { return e == "." || e == ".." }) {
		return nil, fmt.Errorf("%q is not an import path envgen reads (example.org/team/base)", importPath)
	}
	if im.root == "" {
		return nil, fmt.Errorf("cannot import %q: only an envgen.cue read from a directory with cue.mod/module.cue can import packages", importPath)
	}
	if im.module == "" {
		return nil, fmt.Errorf("cannot import %q: there is no cue.mod/module.cue beside envgen.cue (a CUE module: module: \"example.org/team\"; imported packages in its subdirectories or in cue.mod/pkg/<import path>)", importPath)
	}
	if inst, ok := im.packages[importPath]; ok {
		return inst, nil
	}
	if i := slices.Index(im.loading, importPath); i >= 0 {
		return nil, fmt.Errorf("import cycle: %s", strings.Join(append(im.loading[i:], importPath), " → "))
	}
	if len(im.packages)+len(im.loading) >= maxImportedPackages {
		return nil, fmt.Errorf("more than %d imported packages", maxImportedPackages)
	}
	im.loading = append(im.loading, importPath)
	defer func() { im.loading = im.loading[:len(im.loading)-1] }()
	dirPath, _, _ := strings.Cut(importPath, ":")
	var rel string
	switch {
	case dirPath == im.module:
		return nil, fmt.Errorf("cannot import %q: it is the module envgen.cue belongs to (import one of its subdirectories)", importPath)
	case strings.HasPrefix(dirPath, im.module+"/"):
		rel = filepath.FromSlash(strings.TrimPrefix(dirPath, im.module+"/"))
	default:
		rel = filepath.Join("cue.mod", "pkg", filepath.FromSlash(dirPath))
	}
	if err := noLinks(im.root, rel); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("cannot import %q: no directory %s (module %s: its own packages are its subdirectories, others are copied to cue.mod/pkg/<import path>; envgen fetches nothing)", importPath, filepath.Join(im.root, rel), im.module)
		}
		return nil, err
	}
	dir := filepath.Join(im.root, rel)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	want := packageName(importPath)
	inst := build.NewContext().NewInstance(dir, im.load)
	inst.PkgName = want
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".cue" {
			continue
		}
		name := filepath.Join(dir, e.Name())
		if !e.Type().IsRegular() {
			return nil, fmt.Errorf("%s: not a regular file (a link or a special file); envgen reads only regular .cue files", name)
		}
		data, err := im.read(name)
		if err != nil {
			return nil, err
		}
		file, err := parser.ParseFile(name, data, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		if file.PackageName() != want {
			continue // another package in the same directory, as CUE allows
		}
		if err := inst.AddSyntax(file); err != nil {
			return nil, err
		}
	}
	if len(inst.Files) == 0 {
		return nil, fmt.Errorf("cannot import %q: %s has no .cue files of package %s", importPath, dir, want)
	}
	if err := inst.Complete(); err != nil {
		return nil, err
	}
	im.packages[importPath] = inst
	return inst, nil
}

// read reads one file within what is left of the package's limits.
func (im *packageImporter) read(name string) ([]byte, error) {
	data, err := readBounded(name)
	if err != nil {
		return nil, err
	}
	if *im.budget -= len(data); *im.budget < 0 {
		return nil, &InputError{Lines: []string{fmt.Sprintf("%s: envgen.cue and what it imports are more than %d bytes together", name, MaxFileSize)}}
	}
	n, err := scanLimits(name, data)
	if err != nil {
		return nil, err
	}
	if *im.fields -= n; *im.fields < 0 {
		return nil, &InputError{Lines: []string{fmt.Sprintf("%s: envgen.cue and what it imports have more than %d fields together", name, MaxFields)}}
	}
	return data, nil
}

// packageName is the package an import path names: its :qualifier, or its
// last element.
func packageName(importPath string) string {
	if _, qualifier, ok := strings.Cut(importPath, ":"); ok {
		return qualifier
	}
	last := importPath[strings.LastIndex(importPath, "/")+1:]
	return strings.NewReplacer("-", "_", ".", "_").Replace(last)
}

// noLinks checks that every element of rel below root exists and is not a
// symbolic link: an import must stay in the repository's tree.
func noLinks(root, rel string) error {
	current := root
	for _, elem := range strings.Split(filepath.Clean(rel), string(filepath.Separator)) {
		if elem == ".." || elem == "." || elem == "" {
			return fmt.Errorf("%s: leaves the directory of envgen.cue", filepath.Join(root, rel))
		}
		current = filepath.Join(current, elem)
		info, err := os.Lstat(current)
		if err != nil {
			return err
		}
		if info.Mode()&os.ModeSymlink != 0 {
			return &InputError{Lines: []string{fmt.Sprintf("%s: is a symbolic link; envgen does not follow links out of the tree", current)}}
		}
	}
	return nil
}

// importError reports the import that failed at the import's position.
func (c *compilation) importError() error {
	where := c.filename
	if pos := c.importer.errorPos; pos.IsValid() {
		cwd, _ := os.Getwd()
		where = relativePos(cwd, pos)
	}
	var input *InputError
	if errors.As(c.importer.err, &input) {
		return input
	}
	// A syntax error in the package's own file is reported there, with
	// the import that read it.
	var inPackage cueerrors.Error
	if errors.As(c.importer.err, &inPackage) {
		cwd, _ := os.Getwd()
		var lines []string
		for _, e := range cueerrors.Errors(c.importer.err) {
			pos := e.Position()
			if !pos.IsValid() || pos.Filename() == "" {
				continue
			}
			format, args := e.Msg()
			lines = append(lines, fmt.Sprintf("%s: %s (imported at %s)", relativePos(cwd, pos), fmt.Sprintf(format, args...), where))
		}
		if len(lines) > 0 {
			return &InputError{Lines: lines}
		}
	}
	return &InputError{Lines: []string{fmt.Sprintf("%s: %s", where, c.importer.err)}}
}
