// Package trim cuts kustomize's built-in OpenAPI schema down to the kinds
// envgen generates (see hack/kubeschema).
package trim

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/openapi"
)

// Roots are the definitions of the kinds envgen generates, and of those
// envgen.cue's objects may add (internal/kubetypes.Kinds).
var Roots = []string{
	"io.k8s.api.apps.v1.Deployment",
	"io.k8s.api.core.v1.Service",
	"io.k8s.api.core.v1.ConfigMap",
	"io.k8s.api.core.v1.Pod",
	"io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
	"io.k8s.api.policy.v1.PodDisruptionBudget",
	"io.k8s.api.networking.v1.NetworkPolicy",
	"io.k8s.api.batch.v1.CronJob",
	"io.k8s.api.batch.v1.Job",
	"io.k8s.api.core.v1.ServiceAccount",
	"io.k8s.api.networking.v1.Ingress",
	"io.k8s.api.rbac.v1.Role",
	"io.k8s.api.rbac.v1.RoleBinding",
}

// Schema returns the trimmed schema as a swagger document with only
// definitions, as kyaml's openapi.SetSchema reads it.
func Schema() ([]byte, error) {
	all := openapi.Schema().Definitions
	keep := map[string]any{}
	var visit func(name string) error
	visit = func(name string) error {
		if _, done := keep[name]; done {
			return nil
		}
		def, ok := all[name]
		if !ok {
			return fmt.Errorf("definition %s is not in kustomize's schema", name)
		}
		data, err := json.Marshal(def)
		if err != nil {
			return err
		}
		var m any
		if err := json.Unmarshal(data, &m); err != nil {
			return err
		}
		dropDescriptions(m)
		keep[name] = m
		for _, ref := range refs(m) {
			if err := visit(ref); err != nil {
				return err
			}
		}
		return nil
	}
	for _, root := range Roots {
		if _, known := all[root]; !known {
			// kustomize's built-in schema (Kubernetes 1.21) has no
			// autoscaling/v2: it merges such objects without a schema, with
			// or without this file.
			continue
		}
		if err := visit(root); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(keep))
	for n := range keep {
		names = append(names, n)
	}
	sort.Strings(names)
	doc := map[string]any{"swagger": "2.0", "info": map[string]any{"title": "envgen: kustomize's built-in schema, trimmed", "version": openapi.GetSchemaVersion()}, "paths": map[string]any{}, "definitions": keep}
	data, err := json.MarshalIndent(doc, "", " ")
	return append(data, '\n'), err
}

// refs lists the definitions a schema fragment references.
func refs(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "$ref" {
				out = append(out, strings.TrimPrefix(s, "#/definitions/"))
				continue
			}
			out = append(out, refs(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, refs(x)...)
		}
	}
	return out
}

// dropDescriptions removes the prose: kustomize reads types, merge keys and
// strategies, never descriptions.
func dropDescriptions(v any) {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["description"].(string); ok {
			delete(v, "description")
		}
		for _, x := range v {
			dropDescriptions(x)
		}
	case []any:
		for _, x := range v {
			dropDescriptions(x)
		}
	}
}
