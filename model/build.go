package model

// Build is how BuildKit builds the service's image from the repository.
// Context is relative to envgen.cue's directory, Dockerfile to Context;
// both default ("." and "Dockerfile") and stay inside the repository.
type Build struct {
	Context    string            `json:"context,omitempty"`
	Dockerfile string            `json:"dockerfile,omitempty"`
	Target     string            `json:"target,omitempty"`
	Args       map[string]string `json:"args,omitempty"`
	Secrets    []string          `json:"secrets,omitempty"`
	Platform   string            `json:"platform,omitempty"`
	Repository string            `json:"repository,omitempty"`
}

// ContextDir is the build context, relative to envgen.cue's directory.
func (b *Build) ContextDir() string {
	if b.Context == "" {
		return "."
	}
	return b.Context
}

// DockerfilePath is the Dockerfile, relative to the context.
func (b *Build) DockerfilePath() string {
	if b.Dockerfile == "" {
		return "Dockerfile"
	}
	return b.Dockerfile
}
