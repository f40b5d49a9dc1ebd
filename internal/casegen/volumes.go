package casegen

import (
	"fmt"
	"slices"
)

// The directories of the Pods (writable emptyDirs, existing Secrets and
// ConfigMaps as files) and the scheduled jobs that share them.

// mounts picks directories from a pool that never meets filePool's or
// writable's, each an existing Secret or ConfigMap.
func (g *gen) mounts() obj {
	m := obj{}
	for _, p := range g.subset([]string{"/etc/ssl/wmf", "/etc/svc/tls", "/srv/secrets"}, true) {
		// A path's kind is the same in every layer: the layers merge, and
		// a Secret and a ConfigMap at one path is an error.
		mount := obj{}
		if p == "/etc/ssl/wmf" {
			mount["configMap"] = g.pick([]string{"wmf.ca-bundle", "svc-settings"})
		} else {
			mount["secret"] = g.pick([]string{"svc-tls", "wmf.ca-bundle"})
		}
		if g.chance(0.4) {
			mount["items"] = obj{"tls.crt": g.pick([]string{"cert.pem", "tls.crt", "tls/cert.pem"})}
		}
		if g.chance(0.4) {
			mount["mode"] = []any{0o444, 0o644, 0o604}[g.intn(3)]
		}
		m[p] = mount
	}
	return m
}

// writable picks directories from a pool that never meets filePool's paths.
func (g *gen) writable() obj {
	w := obj{}
	for _, p := range g.subset([]string{"/var/cache/app", "/var/lib/data", "/run/app", "/srv/scratch"}, true) {
		d := obj{}
		if g.chance(0.4) {
			d["sizeLimit"] = g.pick([]string{"64Mi", "1Gi"})
		}
		if g.chance(0.3) {
			d["memory"] = g.chance(0.5)
		}
		w[p] = d
	}
	return w
}

// jobs are scheduled jobs: whole at the top level (or for a name the top
// level lacks), changed in an environment.
func (g *gen) jobs(top bool) obj {
	jobs := obj{}
	for _, name := range g.subset([]string{"cleanup", "import"}, true) {
		if !top && slices.Contains(g.topJobs, name) && g.chance(0.1) {
			jobs[name] = nil // dropped in this environment
			continue
		}
		job := obj{}
		if top || !slices.Contains(g.topJobs, name) {
			job["schedule"] = g.pick([]string{"30 2 * * *", "@hourly", "*/15 * * * 1-5"})
			job["command"] = g.args(1, 2, "/usr/bin/"+name)
			if top {
				g.topJobs = append(g.topJobs, name)
			}
		}
		if g.chance(0.3) {
			// "Local" parses, but the API server refuses it.
			job["timeZone"] = g.pick([]string{"Europe/Berlin", "UTC", "America/New_York", "Asia/Kolkata", "Etc/GMT+5"})
			if g.chance(0.03) {
				job["timeZone"] = "Local"
				g.pastLimits = append(g.pastLimits, `timeZone "Local"`)
			}
		}
		if g.chance(0.3) {
			job["concurrencyPolicy"] = g.pick([]string{"Allow", "Forbid", "Replace"})
		}
		if g.chance(0.3) {
			job["suspend"] = g.chance(0.5)
		}
		if g.chance(0.3) {
			job["timeout"] = g.pick([]string{"10m", "1h"})
		}
		if g.chance(0.3) {
			job["env"] = obj{"JOB": name, "MODE": nil}
		}
		if g.chance(0.2) {
			job["backoffLimit"] = g.intn(4)
			job["successfulJobsHistoryLimit"] = g.intn(4)
		}
		jobs[name] = job
	}
	return jobs
}

// secretPlaceholders end every generated config file, so that any layer's
// content has what fileSecrets may fill (and, where no layer fills them,
// they are literal text).
const secretPlaceholders = "token: ${PASS}\nkey: ${KEY}\n"

// fileSecrets sets the renderer at the top level and, once it is set,
// the secrets of the top level's files in any layer, dropping one a lower
// layer set now and then.
func (g *gen) fileSecrets(s obj, top bool) {
	if top && g.chance(0.3) {
		g.renderer = true
		s["fileRenderer"] = obj{"image": "registry.example.org/envgen-render", "digest": fmt.Sprintf("sha256:%064x", g.r.Uint64())}
	} else if !top && g.renderer && g.chance(0.1) {
		s["fileRenderer"] = obj{"image": "registry.example.org/platform/envgen-render", "digest": fmt.Sprintf("sha256:%064x", g.r.Uint64())}
	}
	if !g.renderer || len(g.topFiles) == 0 || !g.chance(0.6) {
		return
	}
	secrets := obj{}
	for _, p := range g.subset(g.topFiles, true) {
		names := obj{}
		for _, name := range g.subset([]string{"PASS", "KEY"}, true) {
			names[name] = obj{"secret": g.pick([]string{"svc-db", "svc-api", "wmf.ca-bundle"}), "key": g.pick([]string{"password", "key", "tls.key"})}
			if !top && g.chance(0.2) {
				names[name] = nil
			}
		}
		secrets[p] = names
	}
	s["fileSecrets"] = secrets
}
