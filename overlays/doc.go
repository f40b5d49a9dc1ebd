// Package overlays lays out the objects of every environment as a kustomize
// tree: base/ holds the objects of the top level of envgen.cue, and
// overlays/<env>/ a kustomization that references the base and holds only
// what differs: images: entries for other tags, minimal strategic merge
// patches computed from the typed objects, and the objects only that
// environment has (the CI build Pod, the autoscaler of production…).
//
// It is the fourth stage of the data flow, after package manifests. Stock
// `kustomize build overlays/<env>` of the tree gives the same objects as
// envgen's own rendering of the environment; the tests hold it to that.
//
// Files are generated deterministically (sorted, no timestamps), each marked
// with the "Code generated … DO NOT EDIT." line review tools recognise, and
// written atomically (Write), or compared with what is on disk (Diff).
package overlays
