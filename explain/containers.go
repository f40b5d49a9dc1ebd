package explain

import (
	"regexp"
	"strings"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/manifests"
)

// sidecarItem is a container of a Pod spec, by list and name.
var sidecarItem = regexp.MustCompile(`^(?:initContainers|containers)\[name=([^\]]+)\]\.(.*)$`)

// sidecarTarget maps the fields of the service Pod's other containers
// (envgen.cue's containers) and of the volumes only they mount; ok is
// false for every other field of the Pod spec at podPath.
func sidecarTarget(project *compiler.Project, env, p, podPath string) (target, bool) {
	rest, ok := strings.CutPrefix(p, podPath+".")
	if !ok {
		return target{}, false
	}
	s, err := project.Environment(env)
	if err != nil {
		return target{}, false
	}
	if t, ok := rendererTarget(rest); ok {
		return t, true
	}
	if len(s.Containers) == 0 {
		return target{}, false
	}
	if volume, ok := strings.CutPrefix(rest, "volumes[name="); ok {
		for name := range s.Containers {
			prefix := "containers." + compiler.Label(name) + "."
			switch {
			case strings.HasPrefix(volume, "tmp-"+name+"]"):
				return target{why: whyTmp}, true
			case strings.HasPrefix(volume, name+"-w-"):
				return target{cue: []string{prefix + "writable"}}, true
			case strings.HasPrefix(volume, name+"-m-"):
				return target{cue: []string{prefix + "mounts"}}, true
			}
		}
		return target{}, false
	}
	m := sidecarItem.FindStringSubmatch(rest)
	if m == nil {
		return target{}, false
	}
	name, field := m[1], m[2]
	if _, ok := s.Containers[name]; !ok {
		return target{}, false
	}
	prefix := "containers." + compiler.Label(name) + "."
	switch {
	case field == "image":
		// A container without an image (or a version) of its own runs the
		// service's.
		c := s.Containers[name]
		fields := []string{prefix + "image", prefix + "tag", prefix + "digest"}
		if c.Image == "" {
			fields = append(fields, "image")
			if c.Tag == "" && c.Digest == "" {
				fields = append(fields, "tag", "digest")
			}
		}
		return target{cue: fields}, true
	case field == "restartPolicy":
		return target{cue: []string{prefix + "kind", prefix + "inJobs"}, why: "set by envgen: a proxy is a native sidecar, and so is a sidecar in a job's Pod (manifests/containers.go)"}, true
	case strings.HasPrefix(field, "lifecycle"):
		return target{cue: []string{prefix + "preStop"}}, true
	case strings.HasPrefix(field, "securityContext.runAsUser"), strings.HasPrefix(field, "securityContext.runAsGroup"):
		return target{cue: []string{prefix + field}}, true
	case field == "securityContext.readOnlyRootFilesystem":
		return target{cue: []string{prefix + "writableRoot"}, why: whyRestricted}, true
	case strings.HasPrefix(field, "securityContext"):
		return target{why: whyRestricted}, true
	case strings.HasPrefix(field, "readinessProbe"):
		return target{cue: []string{prefix + "probes.readiness"}}, true
	case strings.HasPrefix(field, "livenessProbe"):
		return target{cue: []string{prefix + "probes.liveness"}}, true
	case strings.HasPrefix(field, "startupProbe"):
		return target{cue: []string{prefix + "probes.startup"}}, true
	case strings.HasPrefix(field, "volumeMounts"):
		switch {
		case strings.Contains(field, "[name=tmp-"):
			return target{why: whyTmp}, true
		case strings.Contains(field, "[name=token]"):
			return target{cue: []string{prefix + "token", "serviceAccount.token.path"}}, true
		case strings.Contains(field, "[name="+name+"-w-"):
			return target{cue: []string{prefix + "writable"}}, true
		case strings.Contains(field, "[name="+name+"-m-"):
			return target{cue: []string{prefix + "mounts"}}, true
		}
		return target{cue: []string{prefix + "files"}}, true
	case portItem.MatchString(field):
		port := portItem.FindStringSubmatch(field)[1]
		if strings.HasSuffix(field, ".protocol") {
			return target{cue: []string{"service.ports." + compiler.Label(port) + ".protocol"}, why: "set by envgen: TCP unless service.ports says otherwise"}, true
		}
		return target{cue: []string{prefix + "ports." + compiler.Label(port)}}, true
	case envItem.MatchString(field):
		return target{cue: []string{prefix + "env." + envItem.FindStringSubmatch(field)[1]}}, true
	case field == "command" || strings.HasPrefix(field, "command["):
		return target{cue: []string{prefix + "command"}}, true
	case field == "args" || strings.HasPrefix(field, "args["):
		return target{cue: []string{prefix + "args"}}, true
	case strings.HasPrefix(field, "resources"):
		return target{cue: []string{prefix + field, prefix + "resources"}}, true
	}
	return target{why: whyShape}, true
}

// declaredPort is the envgen.cue field of a port of the service's Pod:
// the main container's, or another container's.
func declaredPort(project *compiler.Project, env, port string) string {
	if s, err := project.Environment(env); err == nil {
		for _, name := range sorted.Keys(s.Containers) {
			if _, ok := s.Containers[name].Ports[port]; ok {
				return "containers." + compiler.Label(name) + ".ports." + compiler.Label(port)
			}
		}
	}
	return "ports." + compiler.Label(port)
}

// whyRenderer is why the renderer of fileSecrets is as it is.
const whyRenderer = "set by envgen from fileSecrets: envgen-render fills the files' placeholders from the Secrets when the Pod starts (manifests/filesecrets.go)"

// rendererTarget maps the fields of envgen-render, the init container
// that writes the files with secrets, and of the volumes it uses.
func rendererTarget(rest string) (target, bool) {
	switch {
	case strings.HasPrefix(rest, "volumes[name=rendered-files]"), strings.HasPrefix(rest, "volumes[name=file-secrets]"):
		return target{cue: []string{"fileSecrets"}, why: whyRenderer}, true
	case strings.Contains(rest, "volumeMounts[name=rendered-files]"):
		return target{cue: []string{"fileSecrets", "files"}, why: whyRenderer}, true
	}
	m := sidecarItem.FindStringSubmatch(rest)
	if m == nil || m[1] != manifests.RendererName {
		return target{}, false
	}
	switch field := m[2]; {
	case field == "image":
		return target{cue: []string{"fileRenderer.image", "fileRenderer.digest"}}, true
	case strings.HasPrefix(field, "securityContext"):
		return target{why: whyRestricted}, true
	case strings.HasPrefix(field, "resources"):
		return target{why: "set by envgen: what envgen-render needs (manifests/filesecrets.go)"}, true
	}
	return target{cue: []string{"fileSecrets"}, why: whyRenderer}, true
}
