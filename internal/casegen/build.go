package casegen

// build writes an image build section: the top level says it whole, an
// environment mostly picks another stage, as users write them. It does
// not change the manifests (envgen run and envgen image read it), but it
// goes through the compiler's merge and checks like every field; now and
// then a path that climbs out of the repository, which must be refused
// at its position.
func (g *gen) build(top bool) obj {
	b := obj{}
	if !top {
		b["target"] = g.pick([]string{"test", "production", "debug"})
		if g.chance(0.3) {
			b["args"] = obj{"NODE_ENV": g.pick([]string{"test", "production"})}
		}
		if g.chance(0.3) {
			b["repository"] = "ci-registry.example.org/prs/" + g.name // a CI registry of its own
		}
		if g.chance(0.15) {
			b["secrets"] = []any{} // this environment's build needs none
		}
		if g.chance(0.15) {
			b["platform"] = "linux/arm64"
		}
		if g.chance(0.1) {
			b["context"] = "."
			b["dockerfile"] = "Dockerfile.debug"
		}
		return b
	}
	if g.chance(0.5) {
		b["context"] = g.pick([]string{".", "app", "services/api"})
	}
	if g.chance(0.4) {
		b["dockerfile"] = g.pick([]string{"Dockerfile", "docker/Dockerfile.prod", ".pipeline/blubber.Dockerfile"})
	}
	if g.chance(0.02) {
		b["context"] = "../elsewhere" // refused: outside the repository
	}
	b["target"] = g.pick([]string{"production", "prod", "runtime"})
	if g.chance(0.5) {
		b["args"] = obj{"VERSION": "1.0", "BASE_IMAGE_TAG": "bookworm-20261101"}
	}
	if g.chance(0.4) {
		b["secrets"] = []any{g.pick([]string{"npm-token", "pip.conf"})}
	}
	if g.chance(0.3) {
		b["platform"] = g.pick([]string{"linux/amd64", "linux/arm64"})
	}
	if g.chance(0.3) {
		b["repository"] = "ci-registry.example.org/builds/" + g.name
	}
	return b
}
