package vet

import (
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/internal/placeholder"
	"envgen.dev/envgen/internal/secretlike"
	"envgen.dev/envgen/internal/sorted"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/model"
)

// Rules are envgen's built-in policies, by stable ID.
var Rules = []Rule{{
	ID: "EG001", Severity: Error, Scope: "prod-like",
	Summary: "CPU and memory requests and limits are set",
	Fix:     "set resources: {requests: {cpu, memory}, limits: {cpu, memory}}",
	check: func(c *context, env string, s *model.Service) {
		for _, kind := range []string{"requests", "limits"} {
			for _, name := range []string{"cpu", "memory"} {
				var list map[string]string
				if s.Resources != nil {
					list = map[string]map[string]string{"requests": s.Resources.Requests, "limits": s.Resources.Limits}[kind]
				}
				if list[name] == "" {
					c.report(env, "resources."+kind+"."+name, "no %s %s", name, strings.TrimSuffix(kind, "s"))
				}
			}
		}
	},
}, {
	ID: "EG002", Severity: Error, Scope: "prod-like",
	Summary: "a readiness probe tells the Service when a Pod can take traffic",
	Fix:     `add probes: readiness: http: {path: "/healthz", port: "http"} (or tcp, exec)`,
	check: func(c *context, env string, s *model.Service) {
		// Without ports there is no Service to gate (a queue worker).
		if s.Deploys() && len(s.Ports) > 0 && s.Probes.Readiness == nil {
			c.report(env, "probes.readiness", "no readiness probe")
		}
	},
}, {
	ID: "EG003", Severity: Error, Scope: "prod-like",
	Summary: "the image is pinned by an immutable tag or a digest",
	Fix:     "use a release tag or a digest, not a branch name",
	check: func(c *context, env string, s *model.Service) {
		mutable := []string{"latest", "main", "master", "stable", "dev", "develop", "edge", "nightly", "head"}
		if s.Digest == "" && slices.Contains(mutable, strings.ToLower(s.Tag)) {
			c.report(env, "tag", "tag %q names a moving target", s.Tag)
		}
		for _, name := range sorted.Keys(s.Containers) {
			if tag := s.Containers[name].Tag; slices.Contains(mutable, strings.ToLower(tag)) {
				c.report(env, "containers."+compiler.Label(name)+".tag", "container %s: tag %q names a moving target", name, tag)
			}
		}
	},
}, {
	ID: "EG004", Severity: Error, Scope: "prod-like",
	Summary: "at least two replicas, or an autoscaler, so that one Pod's loss is not an outage",
	Fix:     "set replicas: 2 or more, or autoscale: {min, max}",
	check: func(c *context, env string, s *model.Service) {
		// A release behind the main release's Service (a canary) is one
		// Pod on purpose: the main release keeps the service up.
		if s.Deploys() && s.Autoscale == nil && s.Replicas < 2 && !behindMainService(c, env, s) {
			c.report(env, "replicas", "%d replica(s) and no autoscaler", s.Replicas)
		}
	},
}, {
	ID: "EG005", Severity: Error, Scope: "prod-like",
	Summary: "a PodDisruptionBudget keeps voluntary evictions from taking every Pod at once",
	Fix:     "set disruptionBudget: maxUnavailable: 1 (or minAvailable)",
	check: func(c *context, env string, s *model.Service) {
		many := s.Replicas > 1 || (s.Autoscale != nil && s.Autoscale.Min > 1)
		if s.Deploys() && many && s.DisruptionBudget == nil {
			c.report(env, "disruptionBudget", "more than one replica and no disruption budget")
		}
	},
}, {
	ID: "EG006", Severity: Error, Scope: "all",
	Summary: "a variable whose name says it is a secret takes its value from a Secret",
	Fix:     `use NAME: {secret: "<secret>", key: "<key>"} and keep the value out of the repository`,
	check: func(c *context, env string, s *model.Service) {
		check := func(prefix string, vars map[string]model.EnvVar) {
			for _, name := range sorted.Keys(vars) {
				v := vars[name]
				if v.Secret != "" || v.ConfigMap != "" || v.Unset {
					continue // a reference, or null: the build drops the variable
				}
				switch {
				case secretlike.Name(name):
					c.report(env, prefix+name, "%s has a literal value", name)
				case secretlike.Value(v.Value):
					c.report(env, prefix+name, "%s has a literal value that holds a credential (a password in a URL, or a private key)", name)
				}
			}
		}
		check("env.", s.Env)
		for _, name := range sorted.Keys(s.Containers) {
			check("containers."+compiler.Label(name)+".env.", s.Containers[name].Env)
		}
		for _, job := range sorted.Keys(s.Jobs) {
			check("jobs."+compiler.Label(job)+".env.", s.Jobs[job].Env)
		}
		// The build runs in ci only: its variables are reported there, not
		// in every environment that carries the top level's ci section.
		if s.CI != nil && env == "ci" {
			check("ci.env.", s.CI.Env)
			for _, svc := range sorted.Keys(s.CI.Services) {
				check("ci.services."+svc+".env.", s.CI.Services[svc].Env)
			}
			for _, stage := range sorted.Keys(s.CI.Stages) {
				check("ci.stages."+compiler.Label(stage)+".env.", s.CI.Stages[stage].Env)
			}
		}
		// A build argument is a variable too, and worse: the image's
		// history keeps it for anyone who pulls the image.
		if s.Build != nil {
			for _, name := range sorted.Keys(s.Build.Args) {
				if secretlike.Name(name) || secretlike.Value(s.Build.Args[name]) {
					c.report(env, "build.args."+name, "build argument %s holds a secret: the image's history keeps it (give it as a build secret: build.secrets and RUN --mount=type=secret,id=…)", name)
				}
			}
		}
	},
}, {
	ID: "EG007", Severity: Warning, Scope: "all",
	Summary: "probes check a port a container of the Pod declares",
	Fix:     "name the port in ports (or the container's that serves it) and refer to it by name",
	check: func(c *context, env string, s *model.Service) {
		// The kubelet probes the Pod's address: a probe may go through
		// another container's port (the app's health through its proxy).
		ports := mapValues(s.PodPorts())
		check := func(prefix string, probes model.Probes) {
			kinds := []string{"readiness", "liveness", "startup"}
			for i, p := range []*model.Probe{probes.Readiness, probes.Liveness, probes.Startup} {
				if n := probePortNumber(p); n != 0 && !slices.Contains(ports, n) {
					c.report(env, prefix+"probes."+kinds[i], "probes port %d, which no container of the Pod declares in its ports", n)
				}
			}
		}
		check("", s.Probes)
		for _, name := range sorted.Keys(s.Containers) {
			check("containers."+compiler.Label(name)+".", s.Containers[name].Probes)
		}
	},
}, {
	ID: "EG008", Severity: Warning, Scope: "ci",
	Summary: "the CI build states its timeout",
	Fix:     `set ci: timeout: "20m" to what the tests need`,
	check: func(c *context, env string, s *model.Service) {
		if s.CI != nil && c.project.Sources().IsDefault(env, "ci.timeout") {
			c.report(env, "ci.timeout", "no timeout: the default %s applies", s.CI.Timeout)
		}
	},
}, {
	ID: "EG009", Severity: Error, Scope: "ci",
	Summary: "test services have readiness probes, so the build starts when they can serve",
	Fix:     "add readiness to the service, or switch EG009 off in vet.off with the reason",
	check: func(c *context, env string, s *model.Service) {
		if s.CI == nil {
			return
		}
		for _, name := range sorted.Keys(s.CI.Services) {
			if s.CI.Services[name].Readiness == nil {
				c.report(env, "ci.services."+name, "test service %s has no readiness probe", name)
			}
		}
	},
}, {
	ID: "EG011", Severity: Warning, Scope: "all",
	Summary: "egress rules do not allow every address",
	Fix:     "name the networks the service talks to (cidrs: [\"10.64.32.0/24\"]) or the namespaces",
	check: func(c *context, env string, s *model.Service) {
		for _, name := range sorted.Keys(s.Egress) {
			for i, cidr := range s.Egress[name].CIDRs {
				if _, ipnet, err := net.ParseCIDR(cidr); err == nil {
					if ones, _ := ipnet.Mask.Size(); ones == 0 {
						c.report(env, fmt.Sprintf("egress.%s.cidrs[%d]", name, i), "%s allows egress to every address: the NetworkPolicy restricts nothing", cidr)
					}
				}
			}
		}
	},
}, {
	ID: "EG012", Severity: Warning, Scope: "prod-like",
	Summary: "the Service is not reachable from outside the cluster",
	Fix:     "reach it through the ingress or mesh gateway; or switch EG012 off for this environment with the reason (vet: off: EG012: {reason, environments})",
	check: func(c *context, env string, s *model.Service) {
		if t := s.Service.Type; (t == "NodePort" || t == "LoadBalancer") && len(s.Ports) > 0 {
			c.report(env, "service.type", "a %s Service opens the service on every node or to a load balancer's clients", t)
		}
	},
}, {
	ID: "EG013", Severity: Error, Scope: "prod-like",
	Summary: "the Pod's other containers set CPU and memory requests and limits too",
	Fix:     "set containers: <name>: resources: {requests: {cpu, memory}, limits: {cpu, memory}}",
	check: func(c *context, env string, s *model.Service) {
		// A sidecar without limits can take the node's memory as surely
		// as the main container; without requests the scheduler counts it
		// as nothing.
		for _, name := range sorted.Keys(s.Containers) {
			r := s.Containers[name].Resources
			for _, kind := range []string{"requests", "limits"} {
				for _, resource := range []string{"cpu", "memory"} {
					var list map[string]string
					if r != nil {
						list = map[string]map[string]string{"requests": r.Requests, "limits": r.Limits}[kind]
					}
					if list[resource] == "" {
						c.report(env, "containers."+compiler.Label(name)+".resources."+kind+"."+resource, "container %s: no %s %s", name, resource, strings.TrimSuffix(kind, "s"))
					}
				}
			}
		}
	},
}, {
	ID: "EG014", Severity: Warning, Scope: "all",
	Summary: "a proxy has a startup probe, so the main container starts once it listens",
	Fix:     `add containers: <name>: probes: startup: tcp: port: "<its port>"`,
	check: func(c *context, env string, s *model.Service) {
		// The kubelet starts the next container as soon as a native
		// sidecar's startup probe passes — at once when it has none; a
		// readiness probe does not hold it back — so the main container's
		// first requests could find no proxy. The ci environment's build
		// Pod runs no proxy.
		if compiler.EnvironmentOf(env) == "ci" {
			return
		}
		for _, name := range sorted.Keys(s.Containers) {
			ct := s.Containers[name]
			if ct.KindOrDefault() == model.KindProxy && ct.Probes.Startup == nil {
				c.report(env, "containers."+compiler.Label(name)+".probes", "proxy %s has no startup probe: the main container may start before it listens (a readiness probe does not hold it back)", name)
			}
		}
	},
}, {
	ID: "EG015", Severity: Warning, Scope: "prod-like",
	Summary: "a release restricts network traffic in each direction its main release restricts",
	Fix:     "give the release ingress (or egress) rules of its own instead of dropping the last one",
	check: func(c *context, env string, s *model.Service) {
		// A release has a network policy of its own: a release that drops
		// every rule of a direction (ingress: clients: null) is open where
		// the main release is closed — a canary reachable by anyone.
		if s.Release == "" {
			return
		}
		main, err := c.project.Environment(compiler.EnvironmentOf(env))
		if err != nil || !main.Deploys() {
			return
		}
		if len(main.Ingress) > 0 && len(s.Ingress) == 0 {
			c.report(env, "ingress", "release %s lets every source in: its main release allows only %s", s.Release, strings.Join(sorted.Keys(main.Ingress), ", "))
		}
		if len(main.Egress) > 0 && len(s.Egress) == 0 {
			c.report(env, "egress", "release %s may reach any destination: its main release only %s", s.Release, strings.Join(sorted.Keys(main.Egress), ", "))
		}
	},
}, {
	ID: "EG016", Severity: Warning, Scope: "prod-like",
	SeverityIn: errorInProduction,
	Summary:    "what production runs is pinned by digest: the image that was tested, not a tag that can move (an error in production, a warning in staging)",
	Fix:        "envgen promote the tested image, or envgen lock the tags; both write envgen.lock.cue",
	check: func(c *context, env string, s *model.Service) {
		if s.Deploys() || len(s.Jobs) > 0 {
			if s.Digest == "" {
				c.report(env, "tag", "the service's image %s is named by tag %q", s.Image, s.Tag)
			}
		}
		for _, name := range sorted.Keys(s.Containers) {
			if ct := s.Containers[name]; ct.Image != "" && ct.Digest == "" {
				c.report(env, "containers."+compiler.Label(name)+".tag", "container %s: %s is named by tag %q", name, ct.Image, ct.Tag)
			}
		}
	},
}, {
	ID: "EG017", Severity: Warning, Scope: "all",
	Summary: "an environment named like production or staging is held to their rules, which apply by name: to staging, production and staging-…/production-…",
	Fix:     "name it production-<where> or staging-<where> (it may extend either)",
	check: func(c *context, env string, s *model.Service) {
		if s.Release != "" || ProdLike(env) || !namedLikeProduction.MatchString(env) {
			return
		}
		c.report(env, "environments."+compiler.Label(env), "environment %s is named like production or staging, but the staging/production rules (EG001, EG004, EG016…) do not apply to it", env)
	},
}, {
	ID: "EG018", Severity: Warning, Scope: "all",
	SeverityIn: errorInProduction,
	Summary:    "every container's root filesystem is read-only (an error in production, a warning elsewhere, each with the reason writableRoot gives)",
	Fix:        "name the directories the image writes in writable, or switch EG018 off in production with vet.off and the reason",
	check: func(c *context, env string, s *model.Service) {
		if s.WritableRoot != "" {
			c.report(env, "writableRoot", "the main container's root filesystem is writable: %s", terminalSafe(s.WritableRoot))
		}
		for _, name := range sorted.Keys(s.Containers) {
			if why := s.Containers[name].WritableRoot; why != "" {
				c.report(env, "containers."+compiler.Label(name)+".writableRoot", "container %s's root filesystem is writable: %s", name, terminalSafe(why))
			}
		}
		if s.CI != nil && env == "ci" {
			for _, name := range sorted.Keys(s.CI.Services) {
				if why := s.CI.Services[name].WritableRoot; why != "" {
					c.report(env, "ci.services."+name+".writableRoot", "test service %s's root filesystem is writable: %s", name, terminalSafe(why))
				}
			}
		}
	},
}, {
	ID: "EG019", Severity: Warning, Scope: "all",
	Summary: "objects of a custom kind are checked against a schema (customKinds.<kind>.#schema): envgen knows no more of a custom kind than its declaration says",
	Fix:     "give the kind's declaration a #schema: the CUE of its CRD (cue import openapi, or the platform's package)",
	check: func(c *context, env string, s *model.Service) {
		if env == manifests.CIEnvironment {
			return // not applied in ci
		}
		for _, key := range sorted.Keys(s.Objects) {
			kind, _, _ := strings.Cut(key, "/")
			custom, ok := s.CustomKinds[kind]
			if ok && !custom.Checked && s.Objects[key]["apiVersion"] == custom.APIVersion {
				c.report(env, fmt.Sprintf("objects.%q", key), "%s %s is checked by no schema: only its key, name, namespace and labels are envgen's; kube-apiserver validates the rest when it is applied", custom.APIVersion, kind)
			}
		}
	},
}, {
	ID: "EG020", Severity: Warning, Scope: "all",
	SeverityIn: errorInProduction,
	Summary:    "a placeholder that fileSecrets fills in one environment is filled in every environment whose file has it: elsewhere the file keeps ${NAME} as written",
	Fix:        "fill the placeholder here too (fileSecrets), or take it out of this environment's file content",
	check: func(c *context, env string, s *model.Service) {
		filled := filledPlaceholders(c.project)
		for _, file := range sorted.Keys(s.Files) {
			for _, name := range placeholder.Names(s.Files[file]) {
				if _, here := s.FileSecrets[file][name]; here || filled[file][name] == "" {
					continue
				}
				c.report(env, fmt.Sprintf("files.%q", file), "%s keeps ${%s} as written: %s fills it from a Secret, this environment does not (a null in fileSecrets, or a layer without it)", file, name, filled[file][name])
			}
		}
	},
}}

// namedLikeProduction matches the names people give production and
// staging (prod, prd, live, stage, stg, preprod, eqiad-prod…).
var namedLikeProduction = regexp.MustCompile(`(^|-)(prod|prd|live|stage|stg|preprod)(-|$)|^prod|^stag`)

// behindMainService says whether s is a release whose Pods the main
// release's Service sends traffic to: it shares it, and there is one.
func behindMainService(c *context, env string, s *model.Service) bool {
	if !s.SharesService() {
		return false
	}
	main, err := c.project.Environment(compiler.EnvironmentOf(env))
	return err == nil && main.Deploys() && main.Fronted()
}

func probePortNumber(p *model.Probe) int32 {
	switch {
	case p == nil:
	case p.HTTP != nil:
		return p.HTTP.Port.Number
	case p.TCP != nil:
		return p.TCP.Port.Number
	}
	return 0
}

func mapValues(m map[string]int32) []int32 {
	var out []int32
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// errorInProduction is the severity of a rule that production (and its
// variants) must meet, and the other environments should.
func errorInProduction(env string) Severity {
	if Production(env) {
		return Error
	}
	return Warning
}

// filledPlaceholders are the placeholders fileSecrets fills in some
// environment (or release), by file and name, with the first such scope.
func filledPlaceholders(p *compiler.Project) map[string]map[string]string {
	out := map[string]map[string]string{}
	add := func(scope string, s *model.Service) {
		for file, secrets := range s.FileSecrets {
			for name := range secrets {
				if out[file] == nil {
					out[file] = map[string]string{}
				}
				if out[file][name] == "" {
					out[file][name] = compiler.DescribeScope(scope)
				}
			}
		}
	}
	for _, env := range p.Environments {
		add(env.Name, env.Service)
		for _, r := range env.Service.Releases {
			add(compiler.ReleaseScope(env.Name, r.Release), r)
		}
	}
	return out
}
