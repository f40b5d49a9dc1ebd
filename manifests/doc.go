// Package manifests turns one environment's checked model into typed
// Kubernetes objects (k8s.io/api): the third stage of the data flow, after
// package compiler and before package overlays, which writes them as a
// kustomize tree, and package render, which prints them.
//
// Secure defaults live here, in one place: every Pod runs as non-root with
// all capabilities dropped, no privilege escalation, the RuntimeDefault
// seccomp profile and a read-only root filesystem (an emptyDir for /tmp),
// which meets the Pod Security Standard "restricted" profile; service
// account tokens are mounted only when asked for.
package manifests
