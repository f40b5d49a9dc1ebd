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
	project, err := compiler.CompileFile(path, opts)
	if err != nil {
		return nil, err
	}
	return build(project), nil
}

// LoadSource is Load for CUE text that is not in a file of its own (an
// older revision, say); filename is used in positions.
func LoadSource(filename string, src []byte, opts compiler.Options) (*Result, error) {
	project, err := compiler.Compile(filename, src, opts)
	if err != nil {
		return nil, err
	}
	return build(project), nil
}

func build(project *compiler.Project) *Result {
	r := &Result{Project: project, Base: manifests.Build("", project.Base)}
	for _, env := range project.Environments {
		r.Environments = append(r.Environments, overlays.Environment{
			Name:    env.Name,
			Objects: manifests.Build(env.Name, env.Service),
		})
	}
	return r
}

// Tree lays out the kustomize tree of all environments.
func (r *Result) Tree() (overlays.Tree, error) {
	return overlays.Generate(r.Base, r.Environments)
}

// Objects returns the typed objects of one environment.
func (r *Result) Objects(env string) ([]manifests.Object, error) {
	for _, e := range r.Environments {
		if e.Name == env {
			return e.Objects, nil
		}
	}
	return nil, &compiler.UnknownEnvironmentError{Name: env, Known: r.Project.EnvironmentNames()}
}

// Render returns one environment's objects as `kustomize build` of its
// overlay prints them.
func (r *Result) Render(env string) ([]map[string]any, error) {
	objs, err := r.Objects(env)
	if err != nil {
		return nil, err
	}
	return overlays.Render(r.Base, objs)
}
