#!/bin/sh
# rebase.sh re-vendors github.com/hashicorp/raft at an upstream version into
# this directory and applies Aerolith's patches (patches/*.patch, in order).
#
#   rebase.sh [VERSION]          rebase onto VERSION (default: patches/UPSTREAM)
#   rebase.sh --check [VERSION]  rebuild the tree in a temporary directory
#                                and report every difference from this one
#
# `make rebase-raft UPSTREAM=vX.Y.Z` runs the first form. The upstream source
# comes from the Go module cache (`go mod download`, offline when cached).
# Aerolith's own files (PATCHES.md, rebase.sh, patches/, upstream/ and
# aerolith_*.go) are kept; every other file is upstream's, patched. Upstream
# files the module does not need (CI configuration, docs/, Makefile,
# tag.sh) are not vendored. Nothing here changes unless every patch applies.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
check=false
if [ "${1:-}" = --check ]; then
	check=true
	shift
fi
version=${1:-$(cat "$here/patches/UPSTREAM")}
module=github.com/hashicorp/raft

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT INT TERM
tree=$stage/tree

# Outside any module, so that the root module's replace does not apply.
json=$(cd "$stage" && GOFLAGS= GOWORK=off GO111MODULE=on go mod download -json "$module@$version") || {
	echo "rebase.sh: cannot download $module@$version:" >&2
	echo "$json" >&2
	exit 1
}
src=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
if [ -z "$src" ] || [ ! -d "$src" ]; then
	echo "rebase.sh: no source directory for $module@$version:" >&2
	echo "$json" >&2
	exit 1
fi

cp -R "$src/." "$tree"
chmod -R u+w "$tree"
rm -rf "$tree"/.[!.]* "$tree/docs" "$tree/Makefile" "$tree/tag.sh"

for p in "$here"/patches/*.patch; do
	# GIT_CEILING_DIRECTORIES: apply as a plain patch even if the
	# temporary directory lies inside some repository.
	if ! (cd "$tree" && GIT_CEILING_DIRECTORIES=$stage git apply --whitespace=nowarn "$p"); then
		echo "rebase.sh: $(basename "$p") does not apply to $module $version;" >&2
		echo "  nothing was changed. Fix the patch against a pristine copy (see PATCHES.md), then run this again." >&2
		exit 1
	fi
done

mkdir -p "$tree/patches"
cp -p "$here"/patches/*.patch "$tree/patches/"
echo "$version" >"$tree/patches/UPSTREAM"
cp -p "$here/PATCHES.md" "$here/rebase.sh" "$tree/"
[ -d "$here/upstream" ] && cp -Rp "$here/upstream" "$tree/"
for f in "$here"/aerolith_*.go; do
	[ -e "$f" ] && cp -p "$f" "$tree/"
done

if $check; then
	if ! diff -r "$tree" "$here"; then
		echo "rebase.sh: $here is not $module $version with patches/*.patch applied (diff above: < rebuilt, > this tree)" >&2
		exit 1
	fi
	exit 0
fi

find "$here" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
cp -Rp "$tree/." "$here/"
echo "rebase.sh: $here is now $module $version with $(ls "$here"/patches/*.patch | wc -l) patches applied"
echo "  if the version changed: set it in the root go.mod (require $module $version), run go mod tidy, and review PATCHES.md"
