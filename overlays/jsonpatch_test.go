package overlays_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/overlays"
)

// longDeployment is a Deployment whose container has vars variables: past
// overlays.JSONPatchFrom, so its patches are JSON patches.
func longDeployment(vars int) *appsv1.Deployment {
	var env []corev1.EnvVar
	for i := range vars {
		env = append(env, corev1.EnvVar{Name: fmt.Sprintf("V%03d", i), Value: fmt.Sprintf("value %d", i)})
	}
	labels := map[string]string{"app": "svc"}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "svc", Annotations: map[string]string{"example.org/owner": "team~a"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name: "svc", Image: "registry.example.org/svc:1.0", Env: env,
						Command: []string{"serve", "--port", "8080"},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
							HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)},
						}},
						VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
					}},
					Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				},
			},
		},
	}
}

// mutations are what an environment changes in a service, each applied to
// the environment's copy.
var mutations = []struct {
	name  string
	apply func(r *rand.Rand, d *appsv1.Deployment)
}{
	{"change a value", func(r *rand.Rand, d *appsv1.Deployment) {
		env := d.Spec.Template.Spec.Containers[0].Env
		env[r.IntN(len(env))].Value = fmt.Sprintf("changed %d", r.Int())
	}},
	{"value to valueFrom", func(r *rand.Rand, d *appsv1.Deployment) {
		env := d.Spec.Template.Spec.Containers[0].Env
		i := r.IntN(len(env))
		env[i].Value = ""
		env[i].ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "secrets"}, Key: env[i].Name}}
	}},
	{"add a variable", func(r *rand.Rand, d *appsv1.Deployment) {
		c := &d.Spec.Template.Spec.Containers[0]
		i := r.IntN(len(c.Env) + 1)
		c.Env = slices.Insert(c.Env, i, corev1.EnvVar{Name: fmt.Sprintf("NEW_%d", r.Int()), Value: "new"})
	}},
	{"remove a variable", func(r *rand.Rand, d *appsv1.Deployment) {
		c := &d.Spec.Template.Spec.Containers[0]
		i := r.IntN(len(c.Env))
		c.Env = slices.Delete(c.Env, i, i+1)
	}},
	{"swap two variables", func(r *rand.Rand, d *appsv1.Deployment) {
		env := d.Spec.Template.Spec.Containers[0].Env
		i, j := r.IntN(len(env)), r.IntN(len(env))
		env[i], env[j] = env[j], env[i]
	}},
	{"switch the probe", func(_ *rand.Rand, d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
			TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}}
	}},
	{"drop the probe", func(_ *rand.Rand, d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].ReadinessProbe = nil
	}},
	{"change the command", func(r *rand.Rand, d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Command = []string{"serve", fmt.Sprint(r.Int())}
	}},
	{"annotation with a slash and a tilde", func(r *rand.Rand, d *appsv1.Deployment) {
		d.Annotations["example.org/owner"] = fmt.Sprintf("team~%d", r.Int())
		d.Annotations["a/b~c"] = "new"
	}},
	{"replicas", func(r *rand.Rand, d *appsv1.Deployment) {
		n := int32(r.IntN(10) + 2)
		d.Spec.Replicas = &n
	}},
	{"memory-backed emptyDir", func(_ *rand.Rand, d *appsv1.Deployment) {
		d.Spec.Template.Spec.Volumes[0].EmptyDir.Medium = corev1.StorageMediumMemory
	}},
	{"second container", func(_ *rand.Rand, d *appsv1.Deployment) {
		spec := &d.Spec.Template.Spec
		spec.Containers = append(spec.Containers, corev1.Container{Name: "proxy", Image: "registry.example.org/proxy:2"})
	}},
	{"volume and mount", func(r *rand.Rand, d *appsv1.Deployment) {
		spec := &d.Spec.Template.Spec
		name := fmt.Sprintf("cache-%d", r.IntN(100))
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		spec.Containers[0].VolumeMounts = append(spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: name, MountPath: "/" + name})
	}},
}

// Environments made of random mutations of a Deployment with a long list
// are built by kustomize's own engine from their JSON patches into exactly
// the objects envgen meant (Verify), some extending others as production's
// descendants do.
func TestJSONPatchesAreWhatKustomizeBuilds(t *testing.T) {
	const cases = 60
	for seed := range uint64(cases) {
		r := rand.New(rand.NewPCG(seed, 6902))
		base := longDeployment(overlays.JSONPatchFrom + r.IntN(100))
		var envs []overlays.Environment
		var applied []string
		for e := range 3 {
			parent := base
			extends := ""
			if e > 0 && r.IntN(2) == 0 {
				extends = envs[e-1].Name
				parent = envs[e-1].Objects[0].(*appsv1.Deployment)
			}
			child := parent.DeepCopy()
			for range 1 + r.IntN(3) {
				m := mutations[r.IntN(len(mutations))]
				m.apply(r, child)
				applied = append(applied, m.name)
			}
			envs = append(envs, overlays.Environment{Name: fmt.Sprintf("env-%d", e), Extends: extends, Objects: []manifests.Object{child}})
		}
		tree, err := overlays.Generate([]manifests.Object{base}, envs)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		builder, err := overlays.NewBuilder(tree)
		if err != nil {
			t.Fatal(err)
		}
		for _, env := range envs {
			dir := overlays.OverlayDir(env.Name) + "/"
			if _, smp := tree[dir+"deployment-svc.patch.yaml"]; smp {
				t.Errorf("seed %d, %s: a strategic merge patch of a Deployment with a long list", seed, env.Name)
			}
			built, err := builder.Build(env.Name)
			if err == nil {
				err = overlays.Verify(env.Name, env.Objects, built.Objects)
			}
			if err != nil {
				t.Fatalf("seed %d (%s): %s: %v\n%s", seed, strings.Join(applied, ", "), env.Name, err, tree[dir+"deployment-svc.jsonpatch.yaml"])
			}
		}
	}
}

// A JSON patch steps into a list element only after a test of its name:
// a base edited by hand under the overlay (an element moved) makes
// kustomize refuse the patch instead of changing another variable.
func TestJSONPatchRefusesAMovedElement(t *testing.T) {
	base := longDeployment(overlays.JSONPatchFrom)
	child := base.DeepCopy()
	child.Spec.Template.Spec.Containers[0].Env[5].Value = "changed"
	tree, err := overlays.Generate([]manifests.Object{base}, []overlays.Environment{{Name: "ci", Objects: []manifests.Object{child}}})
	if err != nil {
		t.Fatal(err)
	}
	patch := string(tree["overlays/ci/deployment-svc.jsonpatch.yaml"])
	for _, want := range []string{"op: test\n  path: /spec/template/spec/containers/0/env/5/name\n  value: V005\n", "op: replace\n  path: /spec/template/spec/containers/0/env/5/value\n  value: changed\n"} {
		if !strings.Contains(patch, want) {
			t.Fatalf("patch lacks %q:\n%s", want, patch)
		}
	}
	moved := longDeployment(overlays.JSONPatchFrom)
	env := moved.Spec.Template.Spec.Containers[0].Env
	env[4], env[5] = env[5], env[4]
	edited, err := overlays.Generate([]manifests.Object{moved}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tree["base/deployment-svc.yaml"] = edited["base/deployment-svc.yaml"]
	builder, err := overlays.NewBuilder(tree)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := builder.Build("ci"); err == nil || !strings.Contains(err.Error(), "test") {
		t.Errorf("kustomize built a patch whose test names another element: %v", err)
	}
}

// Below JSONPatchFrom the strategic merge patch stays: it names what it
// changes.
func TestShortListsKeepStrategicMergePatches(t *testing.T) {
	base := longDeployment(overlays.JSONPatchFrom - 1)
	child := base.DeepCopy()
	child.Spec.Template.Spec.Containers[0].Env[0].Value = "changed"
	tree, err := overlays.Generate([]manifests.Object{base}, []overlays.Environment{{Name: "ci", Objects: []manifests.Object{child}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tree["overlays/ci/deployment-svc.patch.yaml"]; !ok {
		t.Errorf("no strategic merge patch for a list of %d: %v", overlays.JSONPatchFrom-1, tree.Paths())
	}
}

// Elements are identified by their list's merge key: the mounts of files
// share the volume's name and differ by mountPath, so a mount added is one
// `add`, and a changed one is tested by its mountPath, not the list
// replaced whole.
func TestJSONPatchesUseTheListsMergeKey(t *testing.T) {
	base := longDeployment(overlays.JSONPatchFrom)
	c := &base.Spec.Template.Spec.Containers[0]
	c.VolumeMounts = []corev1.VolumeMount{
		{Name: "files", MountPath: "/etc/a.yaml", SubPath: "a.yaml"},
		{Name: "files", MountPath: "/etc/b.yaml", SubPath: "b.yaml"},
	}
	child := base.DeepCopy()
	mounts := &child.Spec.Template.Spec.Containers[0].VolumeMounts
	(*mounts)[1].ReadOnly = true
	*mounts = append(*mounts, corev1.VolumeMount{Name: "files", MountPath: "/etc/c.yaml", SubPath: "c.yaml"})
	tree, err := overlays.Generate([]manifests.Object{base}, []overlays.Environment{{Name: "ci", Objects: []manifests.Object{child}}})
	if err != nil {
		t.Fatal(err)
	}
	patch := string(tree["overlays/ci/deployment-svc.jsonpatch.yaml"])
	for _, want := range []string{
		"- op: test\n  path: /spec/template/spec/containers/0/volumeMounts/1/mountPath\n  value: /etc/b.yaml\n",
		"- op: add\n  path: /spec/template/spec/containers/0/volumeMounts/1/readOnly\n  value: true\n",
		"- op: add\n  path: /spec/template/spec/containers/0/volumeMounts/2\n",
	} {
		if !strings.Contains(patch, want) {
			t.Errorf("patch lacks %q:\n%s", want, patch)
		}
	}
	if strings.Contains(patch, "op: replace") {
		t.Errorf("a list replaced whole:\n%s", patch)
	}
	buildAndVerify(t, tree, overlays.Environment{Name: "ci", Objects: []manifests.Object{child}})
}

// The form is chosen per object for the whole tree: one environment
// taking a list past JSONPatchFrom makes every overlay's patch of that
// object a JSON patch, not only its own.
func TestOneFormPerObjectAcrossOverlays(t *testing.T) {
	base := longDeployment(overlays.JSONPatchFrom - 1)
	longer := base.DeepCopy()
	c := &longer.Spec.Template.Spec.Containers[0]
	c.Env = append(c.Env, corev1.EnvVar{Name: "ONE_MORE", Value: "x"})
	replicas := base.DeepCopy()
	n := int32(3)
	replicas.Spec.Replicas = &n
	envs := []overlays.Environment{
		{Name: "staging", Objects: []manifests.Object{longer}},
		{Name: "production", Objects: []manifests.Object{replicas}},
	}
	tree, err := overlays.Generate([]manifests.Object{base}, envs)
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range envs {
		if _, ok := tree["overlays/"+env.Name+"/deployment-svc.jsonpatch.yaml"]; !ok {
			t.Errorf("%s: no JSON patch: %v", env.Name, tree.Paths())
		}
		buildAndVerify(t, tree, env)
	}
}

// An object whose name makes another file's name is refused, not written
// over it.
func TestFileNameClashIsRefused(t *testing.T) {
	cm := func(name, value string) *corev1.ConfigMap {
		return &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": value}}
	}
	_, err := overlays.Generate([]manifests.Object{cm("w", "1")},
		[]overlays.Environment{{Name: "staging", Objects: []manifests.Object{cm("w", "2"), cm("w.patch", "3")}}})
	if err == nil || !strings.Contains(err.Error(), "configmap-w.patch.yaml") {
		t.Errorf("got %v, want the clash named", err)
	}
}

func buildAndVerify(t *testing.T, tree overlays.Tree, env overlays.Environment) {
	t.Helper()
	builder, err := overlays.NewBuilder(tree)
	if err != nil {
		t.Fatal(err)
	}
	built, err := builder.Build(env.Name)
	if err == nil {
		err = overlays.Verify(env.Name, env.Objects, built.Objects)
	}
	if err != nil {
		t.Errorf("%s: %v", env.Name, err)
	}
}
