#!/bin/sh
# scripts/pulumi-nodejs-modules.sh DIR...: the node_modules a TypeScript
# Pulumi program on the Aerolith SDK needs, made in each DIR without the
# npm registry (the SDK compiled once, copied into each):
#   DIR/node_modules/@pulumi            -> .tools/npm's (@pulumi/pulumi, the
#                                          Node.js runtime; ts-node and
#                                          typescript resolve from there)
#   DIR/node_modules/@aerolithdb/aerolith  stacks/sdk/nodejs compiled by tsc
#                                          (JavaScript and .d.ts), its
#                                          package.json carrying the provider's
#                                          version (the language host reads it)
# Compiling type-checks the generated SDK: a type error fails here.
# NPM_DIR (default .tools/npm, `make tools/npm`) holds the packages.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || { echo "usage: $0 PROGRAM_DIR..." >&2; exit 2; }
npm=${NPM_DIR:-$root/.tools/npm}
case $npm in /*) ;; *) npm=$PWD/$npm ;; esac # linked from elsewhere: absolute
tsc=$npm/node_modules/.bin/tsc
[ -x "$tsc" ] && [ -d "$npm/node_modules/@pulumi/pulumi" ] ||
	{ echo "$0: no tsc and @pulumi/pulumi in $npm/node_modules: run make tools/npm" >&2; exit 1; }
version=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$root/stacks/provider/info.go")
[ -n "$version" ] || { echo "$0: no const Version in stacks/provider/info.go" >&2; exit 1; }

# tsc resolves @pulumi/pulumi upwards from the sources, so they are
# compiled from a copy beside a node_modules of their own.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$root/stacks/sdk/nodejs" "$tmp/src"
rm -rf "$tmp/src/node_modules" "$tmp/src/bin"
ln -s "$npm/node_modules" "$tmp/node_modules"
(cd "$tmp/src" && "$tsc" -p tsconfig.json --outDir "$tmp/out")
sed "s/\${VERSION}/$version/" "$tmp/src/package.json" > "$tmp/out/package.json"
cp "$tmp/src/README.md" "$tmp/out/" 2>/dev/null || true

for arg in "$@"; do
	dir=$(cd "$arg" && pwd)
	mods=$dir/node_modules
	[ -L "$mods" ] && rm "$mods" # an older checkout linked all of .tools/npm here
	mkdir -p "$mods/@aerolithdb"
	ln -sfn "$npm/node_modules/@pulumi" "$mods/@pulumi"
	sdk=$mods/@aerolithdb/aerolith
	rm -rf "$sdk.tmp"
	cp -r "$tmp/out" "$sdk.tmp"
	rm -rf "$sdk"
	mv "$sdk.tmp" "$sdk"
done
