#!/bin/sh
# Builds the Pulumi CLI at the version this module pins (go.mod) into
# $1/pulumi, from the Go module proxy; the Makefile's tools/pulumi target
# calls it only when the binary there is missing or another version.
# The tests never build or download it: make test hands them its path
# (PULUMI_CLI). The clipboard replace in go.mod is upstream's own (the
# original module does not build with this Go); see issue 16.
set -eu
dest=$1
version=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dest"
cd "$here"
GOFLAGS=-buildvcs=false go build -trimpath \
	-ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$version" \
	-o "$dest/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
mv "$dest/pulumi.tmp" "$dest/pulumi"
"$dest/pulumi" version
