// Package pipeline runs envgen's stages in order for one envgen.cue:
//
//	compiler (CUE → checked model per environment)
//	→ manifests (model → typed Kubernetes objects)
//	→ overlays (objects → kustomize tree, or an environment's rendering)
//
// The commands (generate, build, run) share it so that they can never
// disagree about what an environment is.
package pipeline

import (
	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/overlays"
)

// Result is a compiled envgen.cue with the objects of every environment.
type Result struct {
	Project      *compiler.Project
	Base         []manifests.Object
	Environments []overlays.Environment
}

// Load compiles the envgen.cue at path and builds every environment's
// objects.
func Load(path string, opts compiler.Options) (*Result, error) {
	overlays.WarmUp()
	project, err := compiler.CompileFile(path, opts)
	if err != nil {
		return nil, err
	}
	return build(project)
}

// LoadSource is Load for CUE text that is not in a file of its own (an
// older revision, say); filename is used in positions.
func LoadSource(filename string, src []byte, opts compiler.Options) (*Result, error) {
	overlays.WarmUp()
	project, err := compiler.Compile(filename, src, opts)
	if err != nil {
		return nil, err
	}
	return build(project)
}

func build(project *compiler.Project) (*Result, error) {
	base, err := manifests.Build("", project.Base)
	if err != nil {
		return nil, err
	}
	r := &Result{Project: project, Base: base}
	for _, env := range project.Environments {
		objs, err := manifests.Build(env.Name, env.Service)
		if err != nil {
			return nil, err // the compiler checked it: a bug
		}
		r.Environments = append(r.Environments, overlays.Environment{
			Name:    env.Name,
			Extends: env.Extends,
			Objects: objs,
		})
	}
	return r, nil
}

// Tree lays out the kustomize tree of all environments, and proves it:
// kustomize's own engine builds every overlay into exactly the objects
// envgen compiled, or Tree fails with an *overlays.MismatchError.
func (r *Result) Tree() (overlays.Tree, error) {
	tree, err := overlays.Generate(r.Base, r.Environments)
	if err != nil {
		return nil, err
	}
	builder, err := overlays.NewBuilder(tree) // laid out once for every overlay
	if err != nil {
		return nil, err
	}
	for _, env := range r.Environments {
		if _, err := verifiedBuild(builder, env); err != nil {
			return nil, err
		}
	}
	return tree, nil
}

// Objects returns the typed objects of one environment, as envgen compiled
// them.
func (r *Result) Objects(env string) ([]manifests.Object, error) {
	e, err := r.environment(env)
	if err != nil {
		return nil, err
	}
	return e.Objects, nil
}

func (r *Result) environment(env string) (overlays.Environment, error) {
	for _, e := range r.Environments {
		if e.Name == env {
			return e, nil
		}
	}
	return overlays.Environment{}, &compiler.UnknownEnvironmentError{Name: env, Known: r.Project.EnvironmentNames()}
}

// Render returns one environment as kustomize builds its overlay of the
// generated tree: the one rendering every command prints, applies, diffs
// and explains. It fails with an *overlays.MismatchError if that is not
// what envgen compiled.
func (r *Result) Render(env string) (*overlays.Built, error) {
	e, err := r.environment(env)
	if err != nil {
		return nil, err
	}
	// Only the overlays this one builds on are generated.
	var chain []overlays.Environment
	for current := e; ; {
		chain = append(chain, current)
		if current.Extends == "" {
			break
		}
		if current, err = r.environment(current.Extends); err != nil {
			return nil, err
		}
	}
	tree, err := overlays.Generate(r.Base, chain)
	if err != nil {
		return nil, err
	}
	builder, err := overlays.NewBuilder(tree)
	if err != nil {
		return nil, err
	}
	return verifiedBuild(builder, e)
}

func verifiedBuild(builder *overlays.Builder, env overlays.Environment) (*overlays.Built, error) {
	built, err := builder.Build(env.Name)
	if err != nil {
		return nil, err
	}
	if err := overlays.Verify(env.Name, env.Objects, built.Objects); err != nil {
		return nil, err
	}
	return built, nil
}
