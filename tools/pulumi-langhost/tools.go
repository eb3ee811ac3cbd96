//go:build tools

// Package tools pins the Pulumi language hosts that the project builds
// into .tools/ next to the Pulumi CLI (see tools/pulumi-langhost/build.sh
// and the Makefile's tools/pulumi target); nothing imports it.
//
// The hosts of the CLI's own release (v3.277.0) are modules of their own
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3,
// github.com/pulumi/pulumi/sdk/go/pulumi-language-go/v3) that the module
// proxy here does not serve; v3.62.0 is the last github.com/pulumi/pulumi/sdk/v3
// that carries both inside it. The CLI speaks to older hosts: it falls
// back from GetRequiredPackages to GetRequiredPlugins and skips the
// handshake they do not implement.
package tools

import (
	_ "github.com/pulumi/pulumi/sdk/v3/go/pulumi-language-go"
	_ "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs"
)
