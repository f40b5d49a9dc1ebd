// Package compiler turns envgen.cue into checked models, one per environment.
//
// It is the first stage of envgen's data flow:
//
//	envgen.cue ─(compiler)→ model.Service per environment ─(manifests)→
//	Kubernetes objects ─(overlays)→ kustomize tree / rendered YAML / cluster
//
// The file is unified with the embedded schema (package schema), which
// rejects unknown fields, wrong types and conflicts with their positions.
// Then, for every environment, the layers (top level, the environment it
// extends, the environment itself) are merged in Go, keeping each value's
// CUE position, and the result is checked against #Resolved, which adds
// defaults and cross-field rules. Errors point at envgen.cue, never at
// generated YAML.
package compiler
