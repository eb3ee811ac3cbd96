#!/bin/sh
# build.sh DIR [NAME...] — builds the control plane envtest runs
# (kube-apiserver v1.37.2, etcd v3.7.0) and controller-gen from the module
# proxy into DIR, which the Makefile keeps under the git-ignored .tools/;
# with NAMEs, only those. A binary already present is kept: DIR's name
# carries the versions, so a version bump builds afresh. The versions are
# the ones pinned in this module's go.mod.
set -eu
dir=${1:?usage: build.sh DIR [etcd|controller-gen|kube-apiserver ...]}
shift
want=${*:-etcd controller-gen kube-apiserver}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
cd "$here"

k8s=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
minor=$(echo "$k8s" | cut -d. -f2)
cb=k8s.io/component-base/version

build() { # name package [ldflags]
	case " $want " in *" $1 "*) ;; *) return 0 ;; esac
	if [ -x "$dir/$1" ]; then return 0; fi
	echo "building $1 ($2) into $dir" >&2
	go build -trimpath -ldflags "-s -w ${3:-}" -o "$dir/$1.tmp" "$2"
	mv "$dir/$1.tmp" "$dir/$1"
}

build etcd ./etcd
build controller-gen sigs.k8s.io/controller-tools/cmd/controller-gen
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver \
	"-X $cb.gitVersion=$k8s -X $cb.gitMajor=1 -X $cb.gitMinor=$minor -X $cb.gitTreeState=clean"
