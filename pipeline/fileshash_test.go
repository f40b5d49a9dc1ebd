package pipeline_test

import (
	"testing"

	"envgen.dev/envgen/compiler"
	"envgen.dev/envgen/manifests"
	"envgen.dev/envgen/pipeline"
)

// TestAPatchedConfigRollsThePods: an environment that changes a config
// file through a patch of the files ConfigMap gets another files hash on
// its Deployment (and its release's, and its scheduled job's Pods), so
// the Pods roll and load it; one that patches something else keeps the
// hash. The Deployment's hash was computed before the patches: the new
// config was deployed and never loaded. Render checks the overlays give
// the same with kustomize.
func TestAPatchedConfigRollsThePods(t *testing.T) {
	src := `name: "svc"
image: "registry.example.org/svc"
tag: "1.0"
ports: http: 8080
files: "/etc/svc/config.yaml": "timeout: 30\n"
jobs: purge: {schedule: "0 3 * * *", command: ["purge"]}
releases: canary: environments: ["staging"]
environments: {
	staging: patches: {
		"ConfigMap/svc-files": data: "config.yaml": "timeout: 45\n"
		"ConfigMap/svc-canary-files": data: "config.yaml": "timeout: 60\n"
	}
	production: patches: "Deployment/svc": spec: minReadySeconds: 5
}
`
	r, err := pipeline.LoadSource("envgen.cue", []byte(src), compiler.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hashes := func(env string) map[string]string {
		t.Helper()
		built, err := r.Render(env)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, obj := range built.Objects {
			kind, _ := obj["kind"].(string)
			name, _ := obj["metadata"].(map[string]any)["name"].(string)
			template := dig(obj, "spec", "template")
			if kind == "CronJob" {
				template = dig(obj, "spec", "jobTemplate", "spec", "template")
			}
			if annotations, ok := dig(template, "metadata", "annotations").(map[string]any); ok {
				if h, ok := annotations[manifests.FilesHashAnnotation].(string); ok {
					out[kind+"/"+name] = h
				}
			}
		}
		return out
	}
	development, staging, production := hashes("development"), hashes("staging"), hashes("production")
	if staging["Deployment/svc"] == development["Deployment/svc"] || staging["Deployment/svc"] == "" {
		t.Errorf("the patched config keeps the Deployment's files hash: %v", staging)
	}
	if staging["CronJob/svc-purge"] != staging["Deployment/svc"] {
		t.Errorf("the scheduled job's Pods and the Deployment's mount the same files, hash %q and %q", staging["CronJob/svc-purge"], staging["Deployment/svc"])
	}
	if c := staging["Deployment/svc-canary"]; c == "" || c == staging["Deployment/svc"] || c == development["Deployment/svc"] {
		t.Errorf("the release's patched config: hash %q (main %q, unpatched %q)", c, staging["Deployment/svc"], development["Deployment/svc"])
	}
	if production["Deployment/svc"] != development["Deployment/svc"] {
		t.Errorf("a patch of something else changed the files hash: %q, unpatched %q", production["Deployment/svc"], development["Deployment/svc"])
	}
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
