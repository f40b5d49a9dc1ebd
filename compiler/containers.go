package compiler

import (
	"fmt"
	"path"
	"strings"

	"cuelang.org/go/cue"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/model"
)

// reservedContainerNames are the names of the containers envgen makes
// itself in the Pods a sidecar can join, and what each is.
var reservedContainerNames = map[string]string{
	"job":                  "a scheduled job's main container",
	manifests.RendererName: "the init container that writes the files with secrets",
}

// volumeClashName is the one name a container (or a localhost test
// service) cannot have for its volumes' sake: envgen names another's /tmp
// tmp-<name> and this one's writable directories tmp-w-<hash>, so a
// container named w-<that hash> would get two volumes of one name, which
// kube-apiserver refuses.
const volumeClashName = "tmp"

func volumeClashMsg(what string) string {
	return fmt.Sprintf("%s cannot be named %q: envgen names each container's own /tmp volume tmp-<name>, and this one's volumes would be named like another's", what, volumeClashName)
}

// checkContainers checks the Pod's other containers: what their kind
// allows, their image pins, and that they share the Pod's network and
// names with the main container without a clash.
func checkContainers(env string, s *model.Service, at func(string) cue.Value, fail func(field, msg string) error) error {
	portNames := map[string]string{}
	portNumbers := map[int32]string{}
	for name, number := range s.Ports {
		portNames[name], portNumbers[number] = "the main container", "the main container"
	}
	for _, name := range sorted.Keys(s.Containers) {
		c := s.Containers[name]
		prefix := "containers." + Label(name)
		if name == s.Name {
			return fail(prefix, fmt.Sprintf("a container cannot be named %q: the main container has that name", name))
		}
		if what, ok := reservedContainerNames[name]; ok {
			return fail(prefix, fmt.Sprintf("a container cannot be named %q: envgen gives that name to %s", name, what))
		}
		if name == volumeClashName {
			return fail(prefix, volumeClashMsg("a container"))
		}
		if err := checkContainerKind(prefix, c, fail); err != nil {
			return err
		}
		if c.Image != "" || c.Tag != "" || c.Digest != "" {
			if err := onePin(c.Tag, c.Digest, prefix+".", at, fail); err != nil {
				return err
			}
		}
		if pinned(env) && c.Tag == "latest" {
			return fail(prefix+".tag", `"latest" is not a pinned image; give a fixed tag or a digest`)
		}
		if err := requestsWithinLimits(prefix+".resources", c.Resources, fail); err != nil {
			return err
		}
		probes := []struct {
			kind  string
			probe *model.Probe
		}{{"readiness", c.Probes.Readiness}, {"liveness", c.Probes.Liveness}, {"startup", c.Probes.Startup}}
		for _, p := range probes {
			if field, port := namedPort(p.probe); port != "" {
				if _, ok := c.Ports[port]; !ok {
					return fail(prefix+".probes."+p.kind+"."+field+".port", fmt.Sprintf("no port named %q in %s.ports%s: a probe checks its own container", port, prefix, portList(c.Ports)))
				}
			}
		}
		for _, port := range sorted.Keys(c.Ports) {
			field := prefix + ".ports." + Label(port)
			if other, taken := portNames[port]; taken {
				return fail(field, fmt.Sprintf("port name %q is also %s's: port names are unique in the Pod", port, other))
			}
			if other, taken := portNumbers[c.Ports[port]]; taken {
				return fail(field, fmt.Sprintf("port %d is also %s's: the containers share the Pod's network", c.Ports[port], other))
			}
			portNames[port], portNumbers[c.Ports[port]] = "container "+name, "container "+name
		}
		if err := checkContainerPaths(prefix, s, c, fail); err != nil {
			return err
		}
	}
	return nil
}

// checkContainerKind refuses what Kubernetes refuses of an init container
// that runs to completion: probes, and (pointless there) ports.
func checkContainerKind(prefix string, c model.Sidecar, fail func(field, msg string) error) error {
	if c.KindOrDefault() != model.KindInit {
		return nil
	}
	if c.PreStop != nil {
		return fail(prefix+".preStop", "an init container has ended before the Pod is stopped: it has no preStop (kind: \"proxy\" keeps running, and can)")
	}
	for kind, p := range map[string]*model.Probe{"readiness": c.Probes.Readiness, "liveness": c.Probes.Liveness, "startup": c.Probes.Startup} {
		if p != nil {
			return fail(prefix+".probes."+kind, "an init container runs to completion and cannot have probes (kind: \"proxy\" keeps running and can)")
		}
	}
	if len(c.Ports) > 0 {
		return fail(prefix+".ports."+Label(sorted.Keys(c.Ports)[0]), "an init container runs to completion before the Pod serves: it has no ports (kind: \"proxy\" keeps running)")
	}
	return nil
}

// checkContainerPaths wants every directory of a container mounted once,
// the files it names among the service's files, and its mounts readable
// by a user that is not root.
func checkContainerPaths(prefix string, s *model.Service, c model.Sidecar, fail func(field, msg string) error) error {
	mine := map[string]string{}
	for i, p := range c.Files {
		field := fmt.Sprintf("%s.files[%d]", prefix, i)
		if _, ok := s.Files[p]; !ok {
			return fail(field, fmt.Sprintf("%s is not one of the service's files%s", p, fileList(s.Files)))
		}
		if _, twice := mine[p]; twice {
			return fail(field, fmt.Sprintf("%s is listed twice", p))
		}
		mine[p] = "a config file it mounts"
	}
	if err := checkWritable(prefix+".writable", c.Writable, nil, fail); err != nil {
		return err
	}
	for _, p := range sorted.Keys(c.Writable) {
		if what, taken := mine[p]; taken {
			return fail(fmt.Sprintf("%s.writable.%q", prefix, p), fmt.Sprintf("%s is %s; a path is mounted once", p, what))
		}
		mine[p] = "a writable directory"
	}
	if c.Token {
		t := s.ServiceAccount.Token
		if t == nil {
			return fail(prefix+".token", "there is no serviceAccount.token to mount: set serviceAccount.token: {path, audience}")
		}
		// As for the main container (checkToken): nothing inside the
		// token's directory; the token inside a writable directory only.
		dir := path.Dir(t.Path)
		inside := func(p, d string) bool { return p == d || strings.HasPrefix(p, d+"/") }
		for _, p := range append(sorted.Keys(mine), sorted.Keys(c.Mounts)...) {
			if inside(p, dir) || (mine[p] != "a writable directory" && inside(dir, p)) {
				return fail(prefix+".token", fmt.Sprintf("the token's directory %s would overlap %s of this container; give the token a directory of its own", dir, p))
			}
		}
	}
	return checkMountPaths(prefix+".mounts", c.Mounts, mine, s.SecurityContext.FSGroup, fail)
}

func fileList(files map[string]string) string {
	if len(files) == 0 {
		return " (there are no files)"
	}
	return fmt.Sprintf(" (files: %v)", sorted.Keys(files))
}

// checkAddedContainers wants a container that an environment or a release
// adds (no layer below names it) to say its kind or its image, as one
// meant to be new does. A misspelt override (containers: envy: args: […]
// for envoy) says neither, and would silently add a second copy of the
// service.
func (c *compilation) checkAddedContainers(env string, layers []cue.Value) error {
	if err := c.checkDropsSomething(env, layers, "containers", "container"); err != nil {
		return err
	}
	if err := c.checkDropsSomething(env, layers, "jobs", "job"); err != nil {
		return err
	}
	known := map[string]bool{}
	for i, layer := range layers {
		iter, _ := layer.LookupPath(cue.ParsePath("containers")).Fields()
		for iter != nil && iter.Next() {
			name := iter.Selector().Unquoted()
			container := iter.Value()
			if container.IsNull() {
				delete(known, name) // dropped: a layer above adds it anew
				continue
			}
			if i > 0 && !known[name] && !container.LookupPath(cue.ParsePath("image")).Exists() && !container.LookupPath(cue.ParsePath("kind")).Exists() {
				below := sorted.Keys(known)
				msg := fmt.Sprintf("no layer below has a container %s, and a container added here must say its kind or image (this one would run the service's); to change a container, use its name", name)
				if len(below) > 0 {
					msg += fmt.Sprintf(" (%s)", strings.Join(below, ", "))
				}
				return c.positionedError(container, "containers."+Label(name), fmt.Sprintf("%s (in %s)", msg, DescribeScope(env)))
			}
			known[name] = true
		}
	}
	return nil
}

// checkDropsSomething wants a null in a map of named things (containers,
// jobs) to name one that a layer below has: a misspelt name (jobs:
// nighlty: null) would drop nothing, and the job would run on.
func (c *compilation) checkDropsSomething(env string, layers []cue.Value, field, what string) error {
	named := map[string]bool{}
	for _, layer := range layers {
		iter, _ := layer.LookupPath(cue.ParsePath(field)).Fields()
		for iter != nil && iter.Next() {
			name := iter.Selector().Unquoted()
			if iter.Value().IsNull() && !named[name] {
				msg := fmt.Sprintf("null drops nothing: no layer below has a %s %s (%s: %s)", what, name, field, orNone(sorted.Keys(named)))
				if env != "" {
					msg += " (in " + DescribeScope(env) + ")"
				}
				return c.positionedError(iter.Value(), field+"."+Label(name), msg)
			}
			named[name] = true
		}
	}
	return nil
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// checkPreStopSleeps wants every preStop sleep to end within the grace
// period, as kube-apiserver does, and a proxy's after the main
// container's: a native sidecar is stopped once the main container has
// ended, in the same grace period.
func checkPreStopSleeps(s *model.Service, fail func(field, msg string) error) error {
	grace := int64(30) // Kubernetes' default
	if s.TerminationGracePeriodSeconds != nil {
		grace = *s.TerminationGracePeriodSeconds
	}
	// A proxy (a native sidecar) is stopped once the main container has
	// ended: its sleep comes after the main container's, in one grace
	// period.
	mainSleep := int64(0)
	if s.PreStop != nil {
		mainSleep = s.PreStop.Sleep
	}
	if mainSleep > 0 && mainSleep >= grace {
		return fail("preStop.sleep", fmt.Sprintf("the preStop sleep of %ds must end before terminationGracePeriodSeconds (%ds) does", mainSleep, grace))
	}
	for _, name := range sorted.Keys(s.Containers) {
		c := s.Containers[name]
		if c.PreStop == nil || c.PreStop.Sleep == 0 {
			continue
		}
		field := "containers." + Label(name) + ".preStop.sleep"
		switch {
		case c.KindOrDefault() == model.KindProxy && c.PreStop.Sleep+mainSleep >= grace:
			return fail(field, fmt.Sprintf("the proxy is stopped after the main container: its preStop sleep of %ds, after the main container's %ds, must end before terminationGracePeriodSeconds (%ds) does", c.PreStop.Sleep, mainSleep, grace))
		case c.PreStop.Sleep >= grace:
			return fail(field, fmt.Sprintf("the preStop sleep of %ds must end before terminationGracePeriodSeconds (%ds) does", c.PreStop.Sleep, grace))
		}
	}
	return nil
}
