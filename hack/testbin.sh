#!/usr/bin/env bash
# Builds the real control-plane binaries envgen's e2e tests run against
# (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
# kwok) from the committed tools module hack/testbin, into a versioned cache
# directory. Skips the build when all six are already there.
# Prints the directory on stdout; progress goes to stderr.
set -euo pipefail

K8S_VERSION=1.37.2
KWOK_VERSION=0.8.0
cache=${XDG_CACHE_HOME:-$HOME/.cache}
dir=${ENVGEN_TESTBIN:-$cache/envgen-testbin/k8s-$K8S_VERSION-kwok-$KWOK_VERSION}
bins=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

here=$(cd "$(dirname "$0")/testbin" && pwd)

# kwok's own stages (node lifecycle, pod ready/delete) ship in its module;
# the e2e helper combines them with the project's, hack/kwok/stages.yaml.
copy_kwok_stages() {
	local kwok src
	kwok=$(cd "$here" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
	mkdir -p "$1/kwok-stages"
	for src in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
		pod/fast/pod-ready.yaml pod/fast/pod-delete.yaml; do
		cp "$kwok/kustomize/stage/$src" "$1/kwok-stages/"
	done
	chmod -R u+w "$1/kwok-stages"
}

missing=0
for b in "${bins[@]}"; do [ -x "$dir/$b" ] || missing=1; done
if [ "$missing" = 0 ]; then
	[ -d "$dir/kwok-stages" ] || copy_kwok_stages "$dir"
	echo "$dir"
	exit 0
fi

tmp="$dir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
echo "testbin: building ${bins[*]} (k8s v$K8S_VERSION, kwok v$KWOK_VERSION) into $dir; about 7 minutes on 2 cores, once" >&2
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=${K8S_VERSION%%.*} -X k8s.io/component-base/version.gitMinor=$(echo $K8S_VERSION | cut -d. -f2)"
start=$SECONDS
(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$tmp/" tool)
# etcd's main package is its module root, go.etcd.io/etcd/server/v3: go build
# names it after the path without /v3.
mv "$tmp/server" "$tmp/etcd"
for b in "${bins[@]}"; do [ -x "$tmp/$b" ] || { echo "testbin: $b was not built" >&2; exit 1; }; done
copy_kwok_stages "$tmp"
rm -rf "$dir"
mv "$tmp" "$dir"
echo "testbin: built in $((SECONDS - start))s" >&2
echo "$dir"
