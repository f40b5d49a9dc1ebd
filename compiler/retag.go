package compiler

import (
	"fmt"

	"envgen.dev/envgen/model"
)

// imagePin is the layer that pins the service's image for Options.Tag or
// Options.Digest, and the name its positions carry.
func imagePin(opts Options) (layer, origin string) {
	switch {
	case opts.Digest != "":
		return fmt.Sprintf("digest: %q", opts.Digest), "the image built"
	case opts.Tag != "":
		return fmt.Sprintf("tag: %q", opts.Tag), "--tag"
	}
	return "", ""
}

// retagServiceImage makes every container that runs the service's
// repository run the service's image, which --tag (or the image envgen
// run built) has pinned, in the repository it was pushed to.
func (c *compilation) retagServiceImage(service *model.Service) {
	if ci := service.CI; ci != nil && (ci.Image == "" || ci.Image == service.Image) {
		ci.Image, ci.Tag, ci.Digest = "", "", ""
	}
	for name, ctr := range service.Containers {
		if ctr.Image == "" || ctr.Image == service.Image {
			ctr.Image, ctr.Tag, ctr.Digest = "", "", ""
			service.Containers[name] = ctr
		}
	}
	if c.repository != "" {
		service.Image = c.repository
	}
}
