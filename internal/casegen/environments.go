package casegen

import "slices"

func (g *gen) environments() obj {
	envs := obj{}
	for _, name := range []string{"development", "ci", "staging", "production"} {
		if g.chance(0.7) {
			e := obj{}
			g.settings(e, false)
			if name == "ci" && g.chance(0.5) {
				e["ci"] = g.ci(false)
			}
			if g.builds && g.chance(0.4) {
				e["build"] = g.build(false)
			}
			envs[name] = e
		}
	}
	for _, c := range custom {
		_, parentThere := envs[c[1]]
		standard := slices.Contains([]string{"staging", "production"}, c[1])
		if (parentThere || standard) && g.chance(0.35) {
			e := obj{"extends": c[1]}
			g.settings(e, false)
			envs[c[0]] = e
		}
	}
	return envs
}
