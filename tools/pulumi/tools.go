//go:build tools

// Package tools pins the Pulumi CLI that the project builds into .tools/
// (see the Makefile's tools/pulumi target); nothing imports it.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
