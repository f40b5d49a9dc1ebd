package casegen

// The directories of the Pods: writable emptyDirs, and existing Secrets
// and ConfigMaps as files.

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
			mount["items"] = obj{"tls.crt": g.pick([]string{"cert.pem", "tls.crt"})}
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
