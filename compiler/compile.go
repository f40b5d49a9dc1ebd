package compiler

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"

	"envgen.dev/envgen/model"
	"envgen.dev/envgen/schema"
)

// MaxFileSize bounds envgen.cue: a description of one service is a few
// kilobytes, and a bound keeps a wrong file from exhausting memory.
const MaxFileSize = 1 << 20

// StandardEnvironments always exist, in this order; others follow sorted.
var StandardEnvironments = []string{"development", "ci", "staging", "production"}

// Options change what Compile produces.
type Options struct {
	// Tag, when set, retags the service's image in every environment, as
	// `kustomize edit set image <image>=<image>:<tag>` would: every
	// container whose repository is the service's image gets this tag (and
	// loses any digest) — the main container, the Pod's other containers
	// that run the service's image (a migration), and the CI build when it
	// runs the service's image, even if ci.tag or the container pinned
	// another tag. Containers of other images (a proxy, test services, a
	// build with its own ci.image) keep theirs. It is what a CI job passes
	// for the image of the commit under test.
	Tag string

	// Digest, when set, pins the service's image by this digest instead
	// of Tag, in the same containers; Repository, when set, moves them to
	// that repository too. envgen run passes both for the image it built
	// and pushed (to a CI registry, maybe): the build tests exactly it.
	Digest     string
	Repository string

	// NoPins leaves envgen.lock.cue's pins out: every environment as
	// envgen.cue alone says it, tags and all (what envgen lock resolves).
	NoPins bool

	// Environments, when set, limits the environments resolved and checked
	// to these: `envgen build` needs one, and resolving is most of the
	// cost. An unknown name is an *UnknownEnvironmentError.
	Environments []string
}

// Project is a compiled envgen.cue.
type Project struct {
	// Name of the service.
	Name string
	// Base is the top level on its own: what every environment starts from.
	Base *model.Service
	// Environments in stable order: the standard ones, then the rest sorted.
	Environments []Environment
	// Vet is the vet section of envgen.cue: rules switched off and
	// invariants between environments.
	Vet VetConfig
	// Pinned says where each pin of envgen.lock.cue came from, by
	// environment and pinned field ("digest", "containers.envoy.digest").
	Pinned map[string]map[string]PinSource

	sources *Sources
}

// Sources maps fields back to where envgen.cue set them.
func (p *Project) Sources() *Sources { return p.sources }

// Environment is one environment's compiled model.
type Environment struct {
	Name string
	// Extends is the environment this one starts from; "" for the top level.
	Extends string
	Service *model.Service
}

// Environment returns the named environment, or an *UnknownEnvironmentError.
// A release's scope (ReleaseScope: production/canary) names the release's
// model in that environment.
func (p *Project) Environment(name string) (*model.Service, error) {
	envName, release := splitScope(name)
	for _, env := range p.Environments {
		if env.Name != envName {
			continue
		}
		if release == "" {
			return env.Service, nil
		}
		for _, r := range env.Service.Releases {
			if r.Release == release {
				return r, nil
			}
		}
	}
	return nil, &UnknownEnvironmentError{Name: name, Known: p.EnvironmentNames()}
}

// EnvironmentNames lists the environments in stable order.
func (p *Project) EnvironmentNames() []string {
	names := make([]string, len(p.Environments))
	for i, env := range p.Environments {
		names[i] = env.Name
	}
	return names
}

// Source is one CUE file of the package envgen.cue belongs to.
type Source struct {
	Name string // used in positions
	Data []byte
}

// Compile compiles the CUE source of an envgen.cue; filename is used in
// positions.
func Compile(filename string, src []byte, opts Options) (*Project, error) {
	return CompileSources([]Source{{Name: filename, Data: src}}, opts)
}

// CompileSources compiles the files of one CUE package; the first is
// envgen.cue.
func CompileSources(sources []Source, opts Options) (*Project, error) {
	return compileSources(sources, opts, "")
}

// compileSources compiles the files of one CUE package; root is the
// directory they were read from ("" from memory), where a cue.mod may
// provide the packages they import.
func compileSources(sources []Source, opts Options, root string) (*Project, error) {
	filename := sources[0].Name
	fields, size := 0, 0
	for _, s := range sources {
		size += len(s.Data)
		if len(s.Data) > MaxFileSize {
			return nil, &InputError{Lines: []string{fmt.Sprintf("%s: file is %d bytes, more than the limit of %d", s.Name, len(s.Data), MaxFileSize)}}
		}
		n, err := scanLimits(s.Name, s.Data)
		if err != nil {
			return nil, err
		}
		if fields += n; fields > MaxFields {
			return nil, &InputError{Lines: []string{fmt.Sprintf("%s: more than %d fields (envgen.cue describes one service; split what is not this service's)", s.Name, MaxFields)}}
		}
	}
	budget, fieldsLeft := MaxFileSize-size, MaxFields-fields
	importer, err := newPackageImporter(root, &budget, &fieldsLeft)
	if err != nil {
		return nil, err
	}
	c := &compilation{ctx: cuecontext.New(), filename: filename, importer: importer}
	if c.schema, err = schema.Build(c.ctx); err != nil {
		return nil, fmt.Errorf("envgen's embedded schema is broken: %w", err)
	}

	user, err := c.buildPackage(sources)
	if err != nil {
		return nil, err
	}
	top := c.schema.LookupPath(cue.ParsePath("#Service")).Unify(user)
	project := &Project{sources: &Sources{filename: filename, top: top, resolved: map[string]cue.Value{}, layers: map[string][]cue.Value{}}}
	c.sources = project.sources
	if err := top.Validate(cue.Concrete(true)); err != nil {
		return nil, c.inputError("", err)
	}

	var override []cue.Value
	if pin, origin := imagePin(opts); pin != "" {
		pinLayer := c.ctx.CompileString(pin, cue.Filename(origin))
		pinCheck := c.schema.LookupPath(cue.ParsePath("#Settings")).Unify(pinLayer)
		if err := pinCheck.Validate(cue.Concrete(true)); err != nil {
			return nil, c.inputError("", err)
		}
		override = append(override, pinLayer)
	}
	c.repository = opts.Repository

	if vet := top.LookupPath(cue.ParsePath("vet")); vet.Exists() {
		if err := vet.Decode(&project.Vet); err != nil {
			return nil, c.inputError("", err)
		}
		if err := c.checkMayDiffer(vet); err != nil {
			return nil, err
		}
	}
	if err := c.readCustomKinds(top); err != nil {
		return nil, err
	}
	if project.Base, err = c.resolve("", []cue.Value{top}); err != nil {
		return nil, err
	}
	project.Name = project.Base.Name

	environments := top.LookupPath(cue.ParsePath("environments"))
	names := environmentOrder(environments)
	for _, want := range opts.Environments {
		if !slices.Contains(names, want) {
			return nil, &UnknownEnvironmentError{Name: want, Known: names}
		}
	}
	if c.releases, err = c.checkReleases(top, names); err != nil {
		return nil, err
	}
	if err := c.checkReleaseIn(environments); err != nil {
		return nil, err
	}
	if err := c.checkEscapeHatch("", project.Base); err != nil {
		return nil, err
	}
	if err := c.checkVetOff(project.Vet, names, environments); err != nil {
		return nil, err
	}
	if project.Pinned, err = c.checkPins(top, names, opts.NoPins); err != nil {
		return nil, err
	}
	// Every extends chain is checked, even of environments not resolved.
	layersOf := map[string][]cue.Value{}
	for _, name := range names {
		layers, err := c.environmentLayers(environments, name)
		if err != nil {
			return nil, err
		}
		layersOf[name] = append([]cue.Value{top}, layers...)
		if !opts.NoPins {
			layersOf[name] = append(layersOf[name], pinLayers(top, environments, name)...)
		}
	}
	if err := c.checkExpansion(top, names, environments, layersOf); err != nil {
		return nil, err
	}
	wanted := withAncestors(environments, opts.Environments)
	for _, name := range names {
		if opts.Environments != nil && !wanted[name] {
			continue
		}
		service, err := c.resolve(name, append(slices.Clone(layersOf[name]), override...))
		if err != nil {
			return nil, err
		}
		if len(override) > 0 {
			c.retagServiceImage(service)
		}
		if err := c.resolveReleases(name, environments, layersOf[name], override, service); err != nil {
			return nil, err
		}
		// After the releases: a patch may name a release's object.
		if err := c.checkEscapeHatch(name, service); err != nil {
			return nil, err
		}
		extends, _ := environments.LookupPath(cue.MakePath(cue.Str(name), cue.Str("extends"))).String()
		project.Environments = append(project.Environments, Environment{Name: name, Extends: extends, Service: service})
	}
	return project, nil
}

// compilation holds the state of one Compile call. A cue.Context is not
// safe for concurrent use, so every call gets its own.
type compilation struct {
	ctx      *cue.Context
	schema   cue.Value
	filename string
	sources  *Sources
	importer *packageImporter
	// releases are envgen.cue's, once checked.
	releases releaseLayers
	// repository is Options.Repository.
	repository string
	// patterns are the schema's patterns in words (patternWords).
	patterns map[string]string
	// customKinds are envgen.cue's, and the schemas of those that have
	// one, by kind.
	customKinds   map[string]model.CustomKind
	customSchemas map[string]cue.Value
}

// withAncestors returns the named environments and those they extend,
// directly or not: an overlay is built on its parent's. The chains were
// checked for cycles and unknown names before.
func withAncestors(environments cue.Value, names []string) map[string]bool {
	out := map[string]bool{}
	for _, name := range names {
		for current := name; current != "" && !out[current]; {
			out[current] = true
			current, _ = environments.LookupPath(cue.MakePath(cue.Str(current), cue.Str("extends"))).String()
		}
	}
	return out
}

// environmentOrder returns the standard environments, then the others sorted.
func environmentOrder(environments cue.Value) []string {
	names := slices.Clone(StandardEnvironments)
	var custom []string
	iter, _ := environments.Fields()
	for iter.Next() {
		name := iter.Selector().Unquoted()
		if !slices.Contains(StandardEnvironments, name) {
			custom = append(custom, name)
		}
	}
	sort.Strings(custom)
	return append(names, custom...)
}

// environmentLayers follows extends from the named environment and returns
// its layers, the most general first.
func (c *compilation) environmentLayers(environments cue.Value, name string) ([]cue.Value, error) {
	var chain []cue.Value
	var seen []string
	for current := name; current != ""; {
		if slices.Contains(seen, current) {
			env := environments.LookupPath(cue.MakePath(cue.Str(name)))
			return nil, c.positionedError(env.LookupPath(cue.ParsePath("extends")), "environments."+name+".extends",
				fmt.Sprintf("environments extend each other in a cycle: %s", joinArrows(append(seen, current))))
		}
		seen = append(seen, current)
		env := environments.LookupPath(cue.MakePath(cue.Str(current)))
		if !env.Exists() {
			prev := environments.LookupPath(cue.MakePath(cue.Str(seen[len(seen)-2])))
			return nil, c.positionedError(prev.LookupPath(cue.ParsePath("extends")), "environments."+seen[len(seen)-2]+".extends",
				fmt.Sprintf("extends unknown environment %q", current))
		}
		chain = append(chain, env)
		current, _ = env.LookupPath(cue.ParsePath("extends")).String()
	}
	slices.Reverse(chain)
	return chain, nil
}

func joinArrows(names []string) string {
	out := names[0]
	for _, n := range names[1:] {
		out += " → " + n
	}
	return out
}

// resolve merges the layers, checks the result against #Resolved and
// decodes it into a model. env is "" for the base.
func (c *compilation) resolve(env string, layers []cue.Value) (*model.Service, error) {
	if err := c.checkAddedContainers(env, layers); err != nil {
		return nil, err
	}
	merged := mergeLayers(c.ctx, layers)
	resolved := c.schema.LookupPath(cue.ParsePath("#Resolved")).Unify(merged)
	if err := resolved.Validate(cue.Concrete(true)); err != nil {
		return nil, c.inputError(env, err)
	}
	data, err := resolved.MarshalJSON()
	if err != nil {
		return nil, c.inputError(env, err)
	}
	var service model.Service
	if err := json.Unmarshal(data, &service); err != nil {
		return nil, fmt.Errorf("decoding the checked model: %w", err)
	}
	service.CustomKinds = c.customKinds
	if err := c.checkDroppedLastPort(env, layers, &service); err != nil {
		return nil, err
	}
	if err := c.checkCustomObjects(env, resolved, &service); err != nil {
		return nil, err
	}
	// In the order the layers first wrote them; without those a layer
	// dropped (null).
	service.EnvOrder = slices.DeleteFunc(envOrder(layers), func(name string) bool {
		_, kept := service.Env[name]
		return !kept
	})
	if c.sources != nil {
		c.sources.resolved[env] = resolved
		c.sources.layers[env] = layers
	}
	if err := c.checkText(env, resolved); err != nil {
		return nil, err
	}
	if err := c.check(env, resolved, &service); err != nil {
		return nil, err
	}
	return &service, nil
}

// envOrder lists environment variable names layer by layer: each layer's
// new names sorted, after those of the layers below.
func envOrder(layers []cue.Value) []string {
	var order []string
	for _, layer := range layers {
		var added []string
		iter, _ := layer.LookupPath(cue.ParsePath("env")).Fields()
		for iter != nil && iter.Next() {
			name := iter.Selector().Unquoted()
			if !slices.Contains(order, name) {
				added = append(added, name)
			}
		}
		sort.Strings(added)
		order = append(order, added...)
	}
	return order
}
