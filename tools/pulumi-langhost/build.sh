#!/bin/sh
# Builds the Pulumi language hosts pulumi-language-nodejs and
# pulumi-language-go at the version this module pins (go.mod) into $1,
# the Pulumi CLI's own bin folder: the CLI takes language hosts bundled
# next to it before any on PATH, so `pulumi up` of a program directory
# (Pulumi.yaml runtime nodejs or go) needs nothing else on PATH. $1/.langhost-version
# records the version; the Makefile's tools/pulumi target calls this only
# when it is missing or another one. See tools.go for why this version.
set -eu
dest=$1
version=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dest"
cd "$here"
for host in go/pulumi-language-go nodejs/cmd/pulumi-language-nodejs; do
	name=$(basename "$host")
	GOFLAGS=-buildvcs=false go build -trimpath \
		-ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version" \
		-o "$dest/$name.tmp" "github.com/pulumi/pulumi/sdk/v3/$host"
	mv "$dest/$name.tmp" "$dest/$name"
done
echo "v$version" > "$dest/.langhost-version"
echo "built pulumi-language-go and pulumi-language-nodejs v$version into $dest"
