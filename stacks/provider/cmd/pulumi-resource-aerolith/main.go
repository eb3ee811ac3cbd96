// Command pulumi-resource-aerolith is the Aerolith Pulumi resource
// provider: the Terraform provider bridged by pulumi-terraform-bridge
// (see package stacks/provider). The Pulumi engine starts it when it is
// on PATH or installed as a plugin.
package main

import (
	"context"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	"github.com/aerolithdb/aerolith/stacks/provider"
)

func main() {
	pftfbridge.Main(context.Background(), provider.Name, provider.Info(), pftfbridge.ProviderMetadata{PackageSchema: provider.Schema})
}
