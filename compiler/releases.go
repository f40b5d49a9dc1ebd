package compiler

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"cuelang.org/go/cue"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/model"
)

// Releases: several instances of the service in one namespace (a canary
// beside the main one). A release is one more layer after its
// environment's, resolved and checked like an environment, and kept in
// Sources under ReleaseScope(env, release).

// ReleaseScope names a release of an environment where an environment's
// name is expected (Sources, error messages): "production/canary".
// Environment names are DNS labels, so the slash cannot be part of one.
func ReleaseScope(env, release string) string { return env + "/" + release }

// splitScope splits a scope into its environment and release ("" for the
// environment itself).
func splitScope(scope string) (env, release string) {
	env, release, _ = strings.Cut(scope, "/")
	return env, release
}

// EnvironmentOf is the environment of a scope: a release's, or the
// environment itself.
func EnvironmentOf(scope string) string {
	env, _ := splitScope(scope)
	return env
}

// DescribeScope names a scope in a message: "environment production,
// release canary".
func DescribeScope(scope string) string {
	env, release := splitScope(scope)
	if release == "" {
		return "environment " + env
	}
	return "environment " + env + ", release " + release
}

// releaseName is a DNS label; its length is checked with the service's
// name, which its objects' names add to.
var releaseName = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// notInRelease are the fields of an environment a release cannot set:
// what is the environment's (its cluster, its build, its jobs, the escape
// hatch that may name any of its objects) or would leave the release
// without a Deployment. Why, for the error.
var notInRelease = []struct{ field, why string }{
	{"cluster", "the cluster is the environment's"},
	{"ci", "the CI build is the environment's"},
	{"build", "the image build is the environment's (a release runs another version by tag or digest)"},
	{"jobs", "scheduled jobs are the environment's (a release would run them twice)"},
	{"deployment", "a release is a Deployment"},
	{"patches", "patches are the environment's; a patch there may name a release's object (Deployment/<name>-<release>)"},
	{"objects", "objects are the environment's"},
}

// releaseLayers are the releases of envgen.cue by name, checked on their
// own: fields they may set, environments that exist.
type releaseLayers map[string]cue.Value

// checkReleases checks what each release says on its own and returns
// them; names are the environments.
func (c *compilation) checkReleases(top cue.Value, names []string) (releaseLayers, error) {
	out := releaseLayers{}
	iter, _ := top.LookupPath(cue.ParsePath("releases")).Fields()
	for iter != nil && iter.Next() {
		name := iter.Selector().Unquoted()
		release := iter.Value()
		prefix := "releases." + Label(name)
		switch {
		case !releaseName.MatchString(name):
			return nil, c.positionedError(release, prefix, "a release's name is a DNS label: lowercase letters, digits and '-', starting with a letter (it names objects: <name>-<release>)")
		case name == "main":
			return nil, c.positionedError(release, prefix, `the service itself is the main release: name this one after what it is (canary, internal)`)
		}
		layers := map[string]cue.Value{prefix: release}
		iter, _ := release.LookupPath(cue.ParsePath("in")).Fields()
		for iter != nil && iter.Next() {
			layers[prefix+".in."+Label(iter.Selector().Unquoted())] = iter.Value()
		}
		for _, at := range sorted.Keys(layers) {
			for _, f := range notInRelease {
				if v := layers[at].LookupPath(cue.ParsePath(f.field)); v.Exists() {
					return nil, c.positionedError(v, at+"."+f.field, "a release cannot set "+f.field+": "+f.why)
				}
			}
		}
		for _, at := range sorted.Keys(layers) {
			if v := layers[at].LookupPath(cue.ParsePath("service")); v.Exists() && traffic(release) != "own" {
				return nil, c.positionedError(v, at+".service",
					`the release's Pods are behind the main release's Service (traffic: "shared", the default): give it traffic: "own" to shape a Service of its own`)
			}
		}
		envs := release.LookupPath(cue.ParsePath("environments"))
		if len(releaseEnvironments(release)) == 0 {
			return nil, c.positionedError(envs, prefix+".environments", `a release lists the environments it runs in: environments: ["production"]`)
		}
		seen := map[string]bool{}
		for i, env := range releaseEnvironments(release) {
			field := fmt.Sprintf("%s.environments[%d]", prefix, i)
			at := envs.LookupPath(cue.MakePath(cue.Index(i)))
			switch {
			case env == manifests.CIEnvironment:
				return nil, c.positionedError(at, field, "a release cannot run in ci: its namespace runs the build and the tests, not the service")
			case !slices.Contains(names, env):
				return nil, c.positionedError(at, field, fmt.Sprintf("unknown environment %q (environments: %s)", env, strings.Join(names, ", ")))
			case seen[env]:
				return nil, c.positionedError(at, field, fmt.Sprintf("environment %q is listed twice", env))
			}
			seen[env] = true
		}
		out[name] = release
	}
	return out, nil
}

func traffic(release cue.Value) string {
	t, _ := release.LookupPath(cue.ParsePath("traffic")).String()
	if t == "" {
		return "shared"
	}
	return t
}

func releaseEnvironments(release cue.Value) []string {
	var out []string
	list, _ := release.LookupPath(cue.ParsePath("environments")).List()
	for list.Next() {
		s, _ := list.Value().String()
		out = append(out, s)
	}
	return out
}

// runsIn says whether a release runs in env: env is among its
// environments (listed), or extends one that is (production-eqiad gets
// production's canary, as it gets everything else of production).
func (r releaseLayers) runsIn(release string, env string, environments cue.Value) (runs, listed bool) {
	names := releaseEnvironments(r[release])
	for current := env; current != ""; {
		if slices.Contains(names, current) {
			return true, current == env
		}
		current, _ = environments.LookupPath(cue.MakePath(cue.Str(current), cue.Str("extends"))).String()
	}
	return false, false
}

// resolveReleases resolves the releases that run in env over its layers
// (the environment's, then the release's, then --tag's) and adds them to
// its model.
func (c *compilation) resolveReleases(env string, environments cue.Value, envLayers, override []cue.Value, service *model.Service) error {
	nodePorts := map[int32]string{}
	if service.Deploys() {
		for name, n := range nodePortsOf(service) {
			nodePorts[n] = fmt.Sprintf("port %s of the main release's Service %s", name, service.Name)
		}
	}
	for _, name := range sorted.Keys(c.releases) {
		runs, listed := c.releases.runsIn(name, env, environments)
		if !runs {
			continue
		}
		release := c.releases[name]
		prefix := "releases." + Label(name)
		if !service.Deploys() {
			if !listed {
				continue // it extends an environment with the release, and runs jobs only
			}
			return c.positionedError(release.LookupPath(cue.ParsePath("environments")), prefix+".environments",
				fmt.Sprintf("environment %s has no Deployment (deployment: false): there is nothing to release", env))
		}
		layers := append(append(append(slices.Clone(envLayers), release), releaseInLayers(release, env, environments)...), override...)
		r, err := c.resolve(ReleaseScope(env, name), layers)
		if err != nil {
			return err
		}
		if len(override) > 0 {
			c.retagServiceImage(r)
		}
		r.Release, r.Traffic = name, traffic(release)
		// The environment's, not the release's: the model of a release is
		// the Deployment and what belongs to it.
		r.CI, r.Jobs, r.Patches, r.Objects = nil, nil, nil, nil
		if err := c.checkRelease(env, release, prefix, service, r, nodePorts); err != nil {
			return err
		}
		service.Releases = append(service.Releases, r)
	}
	return nil
}

// checkRelease checks a release against its environment's main release:
// names that fit, Pods the shared Service can reach, node ports apart.
func (c *compilation) checkRelease(env string, release cue.Value, prefix string, main, r *model.Service, nodePorts map[int32]string) error {
	fail := func(field, msg string) error {
		v := release
		if field != "" {
			v = release.LookupPath(cue.ParsePath(field))
		}
		if field == "" || !v.Exists() {
			v, field = release, prefix
		} else {
			field = prefix + "." + field
		}
		return c.positionedError(v, field, fmt.Sprintf("%s (in %s)", msg, DescribeScope(ReleaseScope(env, r.Release))))
	}
	longest := r.Instance()
	if len(r.Files) > 0 {
		longest = manifests.FilesConfigMapName(r.Instance())
	}
	if len(longest) > maxObjectName {
		return fail("", fmt.Sprintf("the release's object %s is %d characters, more than Kubernetes' %d: shorten the release's name", longest, len(longest), maxObjectName))
	}
	if _, ok := main.Jobs[r.Release]; ok {
		return fail("", fmt.Sprintf("the scheduled job %q has this name too: their objects would share the name %s and its labels", r.Release, r.Instance()))
	}
	if r.SharesService() && main.Fronted() {
		ports := r.PodPorts()
		for _, name := range main.Exposed() {
			if _, ok := ports[name]; !ok {
				return fail("containers", fmt.Sprintf("the main release's Service sends port %q to this release's Pods too, which have no port of that name%s", name, portList(ports)))
			}
		}
	}
	if r.SharesService() {
		return nil
	}
	for name, n := range nodePortsOf(r) {
		if other, ok := nodePorts[n]; ok {
			return fail("service.ports."+Label(name)+".nodePort", fmt.Sprintf("node port %d is also %s: a node port is the cluster's, one Service's (give this release's Service its own: service: ports: %s: nodePort: …)", n, other, Label(name)))
		}
		nodePorts[n] = fmt.Sprintf("port %s of %s", name, r.Instance())
	}
	return nil
}

// nodePortsOf are the fixed node ports of a release's own Service, by port.
func nodePortsOf(s *model.Service) map[string]int32 {
	out := map[string]int32{}
	if !s.Fronted() {
		return out
	}
	for _, name := range s.Exposed() {
		if n := s.Service.Ports[name].NodePort; n != 0 {
			out[name] = n
		}
	}
	return out
}

// releaseInLayers are the release's layers for env: in's entries for the
// environments env extends and env itself, the most general first.
func releaseInLayers(release cue.Value, env string, environments cue.Value) []cue.Value {
	return alongLineage(release.LookupPath(cue.ParsePath("in")), environments, env)
}

// checkReleaseIn wants each environment a release's in names to be one
// the release runs in: a layer for another would apply nowhere, silently.
func (c *compilation) checkReleaseIn(environments cue.Value) error {
	for _, name := range sorted.Keys(c.releases) {
		iter, _ := c.releases[name].LookupPath(cue.ParsePath("in")).Fields()
		for iter != nil && iter.Next() {
			env := iter.Selector().Unquoted()
			if runs, _ := c.releases.runsIn(name, env, environments); !runs {
				return c.positionedError(iter.Value(), fmt.Sprintf("releases.%s.in.%s", Label(name), Label(env)),
					fmt.Sprintf("release %s does not run in %s (it runs in %s and the environments that extend them)", name, env, strings.Join(releaseEnvironments(c.releases[name]), ", ")))
			}
		}
	}
	return nil
}
