#!/bin/sh
# scripts/pulumi-nodejs-modules.sh DIR: the node_modules a TypeScript Pulumi
# program on the Aerolith SDK needs, made in DIR without the npm registry:
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
dir=$(cd "${1:?usage: $0 PROGRAM_DIR}" && pwd)
npm=${NPM_DIR:-$root/.tools/npm}
tsc=$npm/node_modules/.bin/tsc
[ -x "$tsc" ] && [ -d "$npm/node_modules/@pulumi/pulumi" ] ||
	{ echo "$0: no tsc and @pulumi/pulumi in $npm/node_modules: run make tools/npm" >&2; exit 1; }
version=$(sed -n 's/^const Version = "\(.*\)"$/\1/p' "$root/stacks/provider/info.go")
[ -n "$version" ] || { echo "$0: no const Version in stacks/provider/info.go" >&2; exit 1; }

mods=$dir/node_modules
[ -L "$mods" ] && rm "$mods" # an older checkout linked all of .tools/npm here
mkdir -p "$mods/@aerolithdb"
ln -sfn "$npm/node_modules/@pulumi" "$mods/@pulumi"

# tsc resolves @pulumi/pulumi upwards from the sources, so they are
# compiled from a copy beside a node_modules of their own.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$root/stacks/sdk/nodejs" "$tmp/src"
rm -rf "$tmp/src/node_modules" "$tmp/src/bin"
ln -s "$npm/node_modules" "$tmp/node_modules"
sdk=$mods/@aerolithdb/aerolith
rm -rf "$sdk.tmp"
(cd "$tmp/src" && "$tsc" -p tsconfig.json --outDir "$sdk.tmp")
sed "s/\${VERSION}/$version/" "$tmp/src/package.json" > "$sdk.tmp/package.json"
cp "$tmp/src/README.md" "$sdk.tmp/" 2>/dev/null || true
rm -rf "$sdk"
mv "$sdk.tmp" "$sdk"
