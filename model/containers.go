package model

import (
	"maps"

	"envgen.dev/envgen/internal/sorted"
)

// The containers of a Pod: what describes each one, and the service Pod's
// containers beside the main one.

// Container is what describes any one container: the service's main
// container, a sidecar, a test service.
type Container struct {
	Image     string              `json:"image,omitempty"`
	Tag       string              `json:"tag,omitempty"`
	Digest    string              `json:"digest,omitempty"`
	Command   []string            `json:"command,omitempty"`
	Args      []string            `json:"args,omitempty"`
	Ports     map[string]int32    `json:"ports,omitempty"`
	Env       map[string]EnvVar   `json:"env,omitempty"`
	Resources *Resources          `json:"resources,omitempty"`
	Writable  map[string]Writable `json:"writable,omitempty"`
	// WritableRoot, if set, is why the root filesystem is writable.
	WritableRoot string `json:"writableRoot,omitempty"`

	// EnvOrder lists the names in Env in the order the container gets
	// them: names set at the top level first, then those an environment
	// added, each group sorted. Appending keeps the strategic merge patches
	// of the overlays minimal. Empty: sorted.
	EnvOrder []string `json:"-"`
}

// ImageRef is the container's image: repository plus tag or digest.
func (c *Container) ImageRef() string { return ImageRef(c.Image, c.Tag, c.Digest) }

// EnvNames lists the container's variables in the order it gets them.
func (c *Container) EnvNames() []string {
	if len(c.EnvOrder) > 0 {
		return c.EnvOrder
	}
	return sorted.Keys(c.Env)
}

// The kinds of a Pod's other containers.
const (
	// KindSidecar runs beside the main container for the Pod's life.
	KindSidecar = "sidecar"
	// KindInit runs to completion before the Pod's other containers start.
	KindInit = "init"
	// KindProxy is a Kubernetes native sidecar (an init container with
	// restartPolicy Always): started before the main container, and
	// stopped after it.
	KindProxy = "proxy"
)

// Sidecar is one of the Pod's other containers. Its image defaults to the
// service's (Image empty: the service's image, tag and digest; Image empty
// and a Tag or Digest: the service's repository at that version).
type Sidecar struct {
	Container
	// Kind is KindSidecar, KindInit or KindProxy ("" is KindSidecar).
	Kind   string           `json:"kind,omitempty"`
	Probes Probes           `json:"probes,omitzero"`
	Mounts map[string]Mount `json:"mounts,omitempty"`
	Files  []string         `json:"files,omitempty"`
	// Token mounts serviceAccount.token in this container too.
	Token   bool     `json:"token,omitempty"`
	PreStop *PreStop `json:"preStop,omitempty"`
	// InJobs, if set, says whether the scheduled jobs' Pods run it
	// (default: proxies and init containers do, sidecars do not).
	InJobs          *bool           `json:"inJobs,omitempty"`
	SecurityContext SecurityContext `json:"securityContext,omitzero"`
}

// KindOrDefault is the sidecar's kind, KindSidecar when unset.
func (c *Sidecar) KindOrDefault() string {
	if c.Kind == "" {
		return KindSidecar
	}
	return c.Kind
}

// SidecarImage is the image a sidecar runs: its own, or the service's.
func (s *Service) SidecarImage(c Sidecar) string {
	switch {
	case c.Image != "":
		return c.ImageRef()
	case c.Tag != "" || c.Digest != "":
		return ImageRef(s.Image, c.Tag, c.Digest)
	}
	return s.ImageRef()
}

// PodPorts are the named ports of the service's Pod: the main container's
// and those of the sidecars and proxies (init containers have none).
func (s *Service) PodPorts() map[string]int32 {
	if len(s.Containers) == 0 {
		return s.Ports
	}
	out := maps.Clone(s.Ports)
	if out == nil {
		out = map[string]int32{}
	}
	for _, c := range s.Containers {
		maps.Copy(out, c.Ports)
	}
	return out
}

// RunsInJobs says whether the scheduled jobs' Pods run the container.
func (c Sidecar) RunsInJobs() bool {
	if c.InJobs != nil {
		return *c.InJobs
	}
	return c.KindOrDefault() != KindSidecar
}
