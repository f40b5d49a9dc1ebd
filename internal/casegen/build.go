package casegen

import "fmt"

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

// pins writes what envgen promote and envgen lock write into
// envgen.lock.cue (here in the one file): the service's image pinned by
// digest in some environments — over their tag, their datacentres' too,
// under a release's own version — and where each pin came from.
func (g *gen) pins(envs obj) (pins, pinned obj) {
	pins, pinned = obj{}, obj{}
	candidates := []string{"staging", "production", "ci"}
	for name := range envs {
		candidates = append(candidates, name)
	}
	for _, env := range g.subset(candidates, true) {
		if _, ok := pins[env]; ok {
			continue
		}
		digest := fmt.Sprintf("sha256:%064x", g.r.Uint64())
		pins[env] = obj{"digest": digest}
		source := obj{"from": "registry.example.org/team/" + g.name + ":1.0"}
		if g.chance(0.5) {
			source = obj{"from": "registry.example.org/team/" + g.name + ":envgen-20261204T120000Z-main-1",
				"commit": fmt.Sprintf("%040x", g.r.Uint64()), "build": "main-1", "builder": "kube-pod://buildkitd-trusted-0?namespace=buildkit#trusted"}
		}
		pinned[env] = obj{"digest": source}
	}
	return pins, pinned
}
