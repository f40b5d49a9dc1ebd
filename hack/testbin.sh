#!/usr/bin/env bash
# Builds the real cluster binaries envgen's e2e tests run against (etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok, and
# kubelet for the real node) from the committed tools module hack/testbin,
# and BuildKit's daemon and client (buildkitd, buildctl: the real lane's
# image builder) from hack/buildkitbin, into versioned cache directories,
# and installs the real node's runtime from Debian's packages (containerd,
# runc, the CNI plugins, busybox-static for the test images). Builds only
# what is missing; installs only what is missing.
# Prints the directory on stdout; progress goes to stderr.
set -euo pipefail

K8S_VERSION=1.37.2
KWOK_VERSION=0.8.0
BUILDKIT_VERSION=0.34.2
CONTAINERD_VERSION=2.4.2
cache=${XDG_CACHE_HOME:-$HOME/.cache}
dir=${ENVGEN_TESTBIN:-$cache/envgen-testbin/k8s-$K8S_VERSION-kwok-$KWOK_VERSION}
# BuildKit has a cache directory of its own (a new BuildKit does not
# rebuild Kubernetes); the k8s directory links its binaries.
bkdir=$cache/envgen-testbin/buildkit-$BUILDKIT_VERSION
# containerd 2 for the real node's second configuration (the spike report's
# EventedPLEG node): Debian ships 1.6.
cddir=$cache/envgen-testbin/containerd-$CONTAINERD_VERSION
# binary name → package in the tools module
declare -A pkgs=(
	[etcd]=go.etcd.io/etcd/server/v3
	[kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
	[kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
	[kube-scheduler]=k8s.io/kubernetes/cmd/kube-scheduler
	[kubectl]=k8s.io/kubernetes/cmd/kubectl
	[kwok]=sigs.k8s.io/kwok/cmd/kwok
	[kubelet]=k8s.io/kubernetes/cmd/kubelet
)
debs=(containerd runc containernetworking-plugins busybox-static)

here=$(cd "$(dirname "$0")/testbin" && pwd)
bkhere=$(cd "$(dirname "$0")/buildkitbin" && pwd)
cdhere=$(cd "$(dirname "$0")/containerdbin" && pwd)

# The real node's runtime. Debian's packages, as a user would install them;
# the real-node tests check for them and say what is missing.
install_debs() {
	local missing=() d
	for d in "${debs[@]}"; do
		dpkg-query -W -f '${Status}' "$d" 2>/dev/null | grep -q 'install ok installed' || missing+=("$d")
	done
	[ ${#missing[@]} = 0 ] && return 0
	local sudo=""
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || { echo "testbin: ${missing[*]} missing and not root: install them with apt-get" >&2; return 0; }
		sudo="sudo -n"
	fi
	echo "testbin: installing ${missing[*]} (Debian packages for the real node)" >&2
	$sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

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

# build_static TOOLS DIR MODULE PKGPREFIX LDFLAGS TAGS BINARY...: builds the
# binaries missing from DIR, static (CGO_ENABLED=0), from the tools module
# MODULE (a directory), package PKGPREFIX/BINARY each; each lands whole or
# not at all.
build_static() {
	local what=$1 into=$2 module=$3 prefix=$4 ldflags=$5 tags=$6 b missing=()
	shift 6
	for b in "$@"; do [ -x "$into/$b" ] || missing+=("$b"); done
	[ ${#missing[@]} = 0 ] && return 0
	mkdir -p "$into"
	local tmp="$into/.tmp.$$" start=$SECONDS
	rm -rf "$tmp" && mkdir -p "$tmp"
	echo "testbin: building ${missing[*]} ($what) into $into, once" >&2
	for b in "${missing[@]}"; do
		(cd "$module" && CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" \
			-o "$tmp/$b" "$prefix/$b") || { rm -rf "$tmp"; return 1; }
	done
	for b in "${missing[@]}"; do mv "$tmp/$b" "$into/"; done
	rm -rf "$tmp"
	echo "testbin: $what built in $((SECONDS - start))s" >&2
}

# buildkitd and buildctl: the real lane puts buildkitd into an image of its
# own, with nothing but runc beside it. About 20 minutes on 2 cores.
build_buildkit() {
	build_static "BuildKit v$BUILDKIT_VERSION" "$bkdir" "$bkhere" github.com/moby/buildkit/cmd \
		"-X github.com/moby/buildkit/version.Version=v$BUILDKIT_VERSION" "" buildkitd buildctl || return 1
	local b
	for b in buildkitd buildctl; do ln -sfn "$bkdir/$b" "$dir/$b"; done
}

# containerd, its runc shim and ctr, without the snapshotters that need C
# libraries; linked into the k8s directory as containerd2/. About 2 minutes.
build_containerd2() {
	build_static "containerd v$CONTAINERD_VERSION" "$cddir" "$cdhere" github.com/containerd/containerd/v2/cmd \
		"-X github.com/containerd/containerd/v2/version.Version=v$CONTAINERD_VERSION" "no_btrfs no_devmapper no_zfs" \
		containerd containerd-shim-runc-v2 ctr || return 1
	ln -sfn "$cddir" "$dir/containerd2"
}

if [ "${ENVGEN_REAL_NODE:-}" != skip ]; then
	install_debs
fi

missing=()
for b in "${!pkgs[@]}"; do [ -x "$dir/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} != 0 ]; then
	mkdir -p "$dir"
	tmp="$dir/.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	trap 'rm -rf "$tmp"' EXIT
	echo "testbin: building ${missing[*]} (k8s v$K8S_VERSION, kwok v$KWOK_VERSION) into $dir; about 25 minutes on 2 cores for all of them, once" >&2
	ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=${K8S_VERSION%%.*} -X k8s.io/component-base/version.gitMinor=$(echo $K8S_VERSION | cut -d. -f2)"
	start=$SECONDS
	for b in "${missing[@]}"; do
		# One at a time: go build -o names a binary after its package path
		# (etcd's would be "server"), so each gets its name here.
		(cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$tmp/$b" "${pkgs[$b]}")
	done
	[ -d "$dir/kwok-stages" ] || copy_kwok_stages "$tmp"
	# Each binary lands whole or not at all: an interrupted build leaves the
	# cache as it was.
	for f in "$tmp"/*; do mv "$f" "$dir/"; done
	echo "testbin: built in $((SECONDS - start))s" >&2
fi
[ -d "$dir/kwok-stages" ] || copy_kwok_stages "$dir"
# The image builder is the real lane's: skipped with it.
[ "${ENVGEN_REAL_NODE:-}" = skip ] || build_buildkit
[ "${ENVGEN_REAL_NODE:-}" = skip ] || build_containerd2
echo "$dir"
