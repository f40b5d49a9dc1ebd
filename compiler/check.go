package compiler

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"cuelang.org/go/cue"
	"k8s.io/apimachinery/pkg/api/resource"

	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/model"
)

// maxTimeout bounds ci.timeout: a build that runs longer than a day is a
// stuck build.
const maxTimeout = 24 * time.Hour

// check runs the rules that CUE cannot state well (references between
// fields, parsing), reporting each at the user's position.
func (c *compilation) check(env string, resolved cue.Value, s *model.Service) error {
	at, fail := c.reporter(env, resolved)

	probes := []struct {
		kind  string
		probe *model.Probe
	}{{"readiness", s.Probes.Readiness}, {"liveness", s.Probes.Liveness}, {"startup", s.Probes.Startup}}
	for _, p := range probes {
		kind := p.kind
		if field, name := namedPort(p.probe); name != "" {
			if _, ok := s.Ports[name]; !ok {
				return fail("probes."+kind+"."+field+".port", fmt.Sprintf("no port named %q in ports%s", name, portList(s.Ports)))
			}
		}
	}

	if err := onePin(s.Tag, s.Digest, "", at, fail); err != nil {
		return err
	}
	if pinned(env) && s.Tag == "latest" {
		return fail("tag", `"latest" is not a pinned image; give a fixed tag or a digest`)
	}

	if err := requestsWithinLimits("resources", s.Resources, fail); err != nil {
		return err
	}
	if err := checkContainers(env, s, at, fail); err != nil {
		return err
	}
	if err := checkJobsOnly(env, s, at, fail); err != nil {
		return err
	}
	if err := checkApplyable(s, fail); err != nil {
		return err
	}
	_, release := splitScope(env)
	if err := checkPortUses(s, release != "", fail); err != nil {
		return err
	}
	if err := checkJobs(s, fail); err != nil {
		return err
	}

	seen := map[string]string{}
	for _, p := range sorted.Keys(s.Files) {
		key := s.FileKey(p)
		if other, ok := seen[key]; ok {
			return fail(fmt.Sprintf("files.%q", p), fmt.Sprintf("file %s and %s would have one ConfigMap key, %q; rename one", other, p, key))
		}
		seen[key] = p
	}

	if s.CI != nil {
		if err := c.checkCI(env, resolved, s, fail); err != nil {
			return err
		}
	}
	return nil
}

// reporter returns the lookup of a field of an environment's merged value
// and the error about one, at its position in envgen.cue.
func (c *compilation) reporter(env string, resolved cue.Value) (at func(string) cue.Value, fail func(field, msg string) error) {
	at = func(field string) cue.Value { return resolved.LookupPath(cue.ParsePath(field)) }
	fail = func(field, msg string) error {
		if env != "" {
			msg = fmt.Sprintf("%s (in %s)", msg, DescribeScope(env))
		}
		return c.positionedError(at(field), field, msg)
	}
	return at, fail
}

// onePin wants exactly one of tag and digest.
func onePin(tag, digest, prefix string, at func(string) cue.Value, fail func(field, msg string) error) error {
	switch {
	case tag == "" && digest == "":
		return fail(prefix+"image", "the image needs a tag or a digest")
	case tag != "" && digest != "":
		field := prefix + "digest"
		if !at(field).Exists() {
			field = prefix + "tag"
		}
		return fail(field, "give a tag or a digest, not both")
	}
	return nil
}

func (c *compilation) checkCI(env string, resolved cue.Value, s *model.Service, fail func(field, msg string) error) error {
	at := func(field string) cue.Value { return resolved.LookupPath(cue.ParsePath(field)) }
	timeout, err := time.ParseDuration(s.CI.Timeout)
	if err != nil || timeout < time.Second || timeout > maxTimeout {
		return fail("ci.timeout", fmt.Sprintf("%q is not a duration between 1s and %s", s.CI.Timeout, maxTimeout))
	}
	s.CI.TimeoutSeconds = int64(timeout.Round(time.Second) / time.Second)

	if pinned(env) && s.CI.Tag == "latest" {
		return fail("ci.tag", `"latest" is not a pinned image; give a fixed tag or a digest`)
	}
	if err := requestsWithinLimits("ci.resources", s.CI.Resources, fail); err != nil {
		return err
	}
	if err := checkArtifacts(s.CI.Artifacts, s.Writable, fail); err != nil {
		return err
	}
	if err := checkStages(env, s, at, fail); err != nil {
		return err
	}
	for _, name := range sorted.Keys(s.CI.Secrets) {
		seen := map[string]bool{}
		for i, key := range s.CI.Secrets[name] {
			if seen[key] {
				return fail(fmt.Sprintf("ci.secrets.%s[%d]", Label(name), i), fmt.Sprintf("key %q is listed twice", key))
			}
			seen[key] = true
		}
	}
	localPorts, localPortNames := map[int32]string{}, map[string]string{}
	for _, name := range sorted.Keys(s.CI.Services) {
		svc := s.CI.Services[name]
		prefix := "ci.services." + Label(name)
		if svc.Localhost {
			if err := checkLocalhost(name, prefix, svc, localPorts, localPortNames, fail); err != nil {
				return err
			}
		}
		if err := requestsWithinLimits(prefix+".resources", svc.Resources, fail); err != nil {
			return err
		}
		if err := onePin(svc.Tag, svc.Digest, prefix+".", at, fail); err != nil {
			return err
		}
		if pinned(env) && svc.Tag == "latest" {
			return fail(prefix+".tag", `"latest" is not a pinned image; give a fixed tag or a digest`)
		}
		if field, port := namedPort(svc.Readiness); port != "" {
			if _, ok := svc.Ports[port]; !ok {
				return fail(prefix+".readiness."+field+".port", fmt.Sprintf("no port named %q in %s.ports%s", port, prefix, portList(svc.Ports)))
			}
		}
	}
	return nil
}

// checkMayDiffer wants every mayDiffer entry of the vet invariants to name
// a field an environment can set: a misspelt one would silently allow
// nothing.
func (c *compilation) checkMayDiffer(vet cue.Value) error {
	settings := c.schema.LookupPath(cue.ParsePath("#Settings"))
	var known []string
	iter, _ := settings.Fields(cue.Optional(true))
	for iter != nil && iter.Next() {
		known = append(known, iter.Selector().Unquoted())
	}
	known = append(known, "releases") // the environment's, compared by name
	invariants, _ := vet.LookupPath(cue.ParsePath("invariants")).Fields()
	for invariants != nil && invariants.Next() {
		list, err := invariants.Value().LookupPath(cue.ParsePath("mayDiffer")).List()
		if err != nil {
			continue // absent; the schema checked its type
		}
		for i := 0; list.Next(); i++ {
			name, _ := list.Value().String()
			if !slices.Contains(known, name) {
				field := fmt.Sprintf("vet.invariants.%s.mayDiffer[%d]", invariants.Selector(), i)
				return c.positionedError(list.Value(), field, fmt.Sprintf("%q is not a field an environment can set (one of: %s)", name, strings.Join(known, ", ")))
			}
		}
	}
	return nil
}

// requestsWithinLimits wants every request at most its limit, as
// kube-apiserver does: the layers may set the two in different places
// (limits at the top level, a bigger request in one environment).
func requestsWithinLimits(prefix string, r *model.Resources, fail func(field, msg string) error) error {
	if r == nil {
		return nil
	}
	for _, name := range sorted.Keys(r.Requests) {
		limit, ok := r.Limits[name]
		if !ok {
			continue
		}
		req, errReq := resource.ParseQuantity(r.Requests[name])
		lim, errLim := resource.ParseQuantity(limit)
		if errReq == nil && errLim == nil && req.Cmp(lim) > 0 {
			field := prefix + ".requests." + name
			if strings.Contains(name, "-") {
				field = fmt.Sprintf("%s.requests.%q", prefix, name)
			}
			return fail(field, fmt.Sprintf("the %s request %s is more than its limit %s; Kubernetes refuses a request above the limit", name, r.Requests[name], limit))
		}
	}
	return nil
}

// pinned says whether env must use immutable image references. Only
// development may follow a moving tag such as latest; the base is never
// deployed on its own.
func pinned(scope string) bool {
	env, _ := splitScope(scope)
	return env != "" && env != "development"
}

// namedPort returns the check kind and port name if the probe names a port.
func namedPort(p *model.Probe) (field, name string) {
	switch {
	case p == nil:
		return "", ""
	case p.HTTP != nil:
		return "http", p.HTTP.Port.Name
	case p.TCP != nil:
		return "tcp", p.TCP.Port.Name
	}
	return "", ""
}

func portList(ports map[string]int32) string {
	if len(ports) == 0 {
		return " (there are no ports)"
	}
	return fmt.Sprintf(" (ports: %v)", sorted.Keys(ports))
}

// checkArtifacts wants every artifact path where the build can write: under
// /tmp or a writable path. Elsewhere the read-only root filesystem would
// refuse the file, and the copy would find nothing.
func checkArtifacts(artifacts []string, writable map[string]model.Writable, fail func(field, msg string) error) error {
	seen := map[string]bool{}
	for i, p := range artifacts {
		field := fmt.Sprintf("ci.artifacts[%d]", i)
		if seen[p] {
			return fail(field, fmt.Sprintf("%s is listed twice", p))
		}
		seen[p] = true
		under := func(dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
		ok := under("/tmp")
		for dir := range writable {
			ok = ok || under(dir)
		}
		if !ok {
			return fail(field, fmt.Sprintf("%s is not under /tmp or a writable path: the root filesystem is read-only, so the build cannot write it (add writable: %q: {})", p, path.Dir(p)))
		}
	}
	return nil
}

// checkLocalhost checks a test service that runs in the build Pod: it
// shares the Pod's network (its ports must not collide with another's) and
// its port and container names (probes find ports by name in the whole
// Pod), and has no Pod-level settings of its own.
func checkLocalhost(name, prefix string, svc model.TestService, ports map[int32]string, names map[string]string, fail func(field, msg string) error) error {
	if name == "build" || name == manifests.ArtifactsContainer {
		return fail(prefix, fmt.Sprintf("a localhost test service cannot be named %q: the build Pod has a container of that name", name))
	}
	if name == volumeClashName {
		return fail(prefix, volumeClashMsg("a localhost test service"))
	}
	if svc.SecurityContext.FSGroup != 0 {
		return fail(prefix+".securityContext.fsGroup", "fsGroup is set per Pod, and a localhost test service runs in the build's Pod: set fsGroup in securityContext at the top level")
	}
	for _, port := range sorted.Keys(svc.Ports) {
		number := svc.Ports[port]
		if other, taken := ports[number]; taken {
			return fail(prefix+".ports."+Label(port), fmt.Sprintf("port %d is also localhost test service %s's: they share the build Pod's network", number, other))
		}
		if other, taken := names[port]; taken {
			return fail(prefix+".ports."+Label(port), fmt.Sprintf("port name %q is also localhost test service %s's: port names are unique in the build Pod", port, other))
		}
		ports[number], names[port] = name, name
	}
	return nil
}
