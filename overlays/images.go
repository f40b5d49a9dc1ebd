package overlays

import (
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"envgen.dev/envgen/manifests"
)

// image is one `images:` entry of a kustomization.
type image struct {
	Name   string
	NewTag string
	Digest string
	// from is the base's reference, which the entry replaces.
	from string
}

type imageList []image

// undo maps each overridden reference back to the base's, so that patches
// are computed without the changes the images: entries already make.
func (l imageList) undo() map[string]string {
	m := map[string]string{}
	for _, img := range l {
		m[img.ref()] = img.from
	}
	return m
}

func (img image) ref() string {
	if img.Digest != "" {
		return img.Name + "@" + img.Digest
	}
	return img.Name + ":" + img.NewTag
}

// imageOverrides finds the repositories of the base whose reference every
// container of the environment changes in the same way. Those become
// images: entries (what `kustomize edit set image` writes); others are left
// to patches.
func imageOverrides(base, env []manifests.Object) imageList {
	baseRefs := refsByRepo(base)
	envRefs := refsByRepo(env)
	var out imageList
	for repo, bRefs := range baseRefs {
		eRefs, ok := envRefs[repo]
		if !ok || len(bRefs) != 1 || len(eRefs) != 1 {
			continue
		}
		from, to := only(bRefs), only(eRefs)
		if from == to {
			continue
		}
		img := image{Name: repo, from: from}
		if _, digest, ok := strings.Cut(to, "@"); ok {
			img.Digest = digest
		} else {
			img.NewTag = to[len(repo)+1:]
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func only(set map[string]bool) string {
	for k := range set {
		return k
	}
	return ""
}

// refsByRepo collects the image references of all containers by repository.
func refsByRepo(objs []manifests.Object) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, obj := range objs {
		for _, c := range containers(obj) {
			repo := repository(c.Image)
			if out[repo] == nil {
				out[repo] = map[string]bool{}
			}
			out[repo][c.Image] = true
		}
	}
	return out
}

// repository strips the tag or digest from an image reference.
func repository(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i]
	}
	return ref
}

func containers(obj manifests.Object) []*corev1.Container {
	var spec *corev1.PodSpec
	switch o := obj.(type) {
	case *appsv1.Deployment:
		spec = &o.Spec.Template.Spec
	case *corev1.Pod:
		spec = &o.Spec
	default:
		return nil
	}
	var out []*corev1.Container
	for i := range spec.InitContainers {
		out = append(out, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		out = append(out, &spec.Containers[i])
	}
	return out
}

// withImages returns a copy of obj with image references replaced.
func withImages(obj manifests.Object, replace map[string]string) manifests.Object {
	if len(replace) == 0 {
		return obj
	}
	cp, ok := obj.DeepCopyObject().(manifests.Object)
	if !ok {
		return obj
	}
	for _, c := range containers(cp) {
		if to, ok := replace[c.Image]; ok {
			c.Image = to
		}
	}
	return cp
}
