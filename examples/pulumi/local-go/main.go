// Command local-go is examples/pulumi/local in Go: a tenant, a local
// cluster, a key, a collection and an index through the bridged Aerolith
// provider and its generated Go SDK (stacks/sdk/go/aerolith). Pulumi's
// Go language host builds and runs it (`pulumi up` in this folder); see
// ../README.md.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/aerolithdb/aerolith/stacks/sdk/go/aerolith"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		cfg := config.New(ctx, "")
		name := cfg.Get("clusterName")
		if name == "" {
			name = "pulumi-demo-go"
		}
		nodes := 3
		if n, err := cfg.TryInt("nodeCount"); err == nil {
			nodes = n
		}
		tenant, err := aerolith.NewTenant(ctx, "shop", &aerolith.TenantArgs{
			Organization:     pulumi.String("Shop"),
			Name:             pulumi.String("shop"),
			Tier:             pulumi.String("starter"),
			Email:            pulumi.String("ops@shop.example"),
			DeleteProtection: pulumi.BoolPtr(false),
		})
		if err != nil {
			return err
		}
		cluster, err := aerolith.NewCluster(ctx, "orders", &aerolith.ClusterArgs{
			Name:         pulumi.String(name),
			Cloud:        pulumi.String("local"),
			NodeCount:    pulumi.IntPtr(nodes),
			AgentUrl:     pulumi.String(cfg.Require("agentUrl")), // file:///path/to/aerolith
			AgentSha256:  pulumi.String(cfg.Require("agentSha256")),
			TenantIds:    pulumi.StringArray{tenant.ID().ToStringOutput()},
			InsecureHttp: pulumi.BoolPtr(cfg.GetBool("insecureHttp")), // only with a plain-HTTP billing on loopback
			// destroy may remove it: a demo cluster
			DeleteProtection: pulumi.BoolPtr(false),
		})
		if err != nil {
			return err
		}
		key, err := aerolith.NewApiKey(ctx, "app", &aerolith.ApiKeyArgs{
			Cluster: cluster.ID().ToStringOutput(),
			Tenant:  tenant.ID().ToStringOutput(),
			Role:    pulumi.String("readwrite"),
			Name:    pulumi.String("app"),
		})
		if err != nil {
			return err
		}
		orders, err := aerolith.NewCollection(ctx, "orders", &aerolith.CollectionArgs{
			Cluster:          cluster.ID().ToStringOutput(),
			Tenant:           tenant.ID().ToStringOutput(),
			Name:             pulumi.String("orders"),
			DeleteProtection: pulumi.BoolPtr(false),
		})
		if err != nil {
			return err
		}
		if _, err := aerolith.NewIndex(ctx, "by-customer", &aerolith.IndexArgs{
			Cluster:    cluster.ID().ToStringOutput(),
			Tenant:     tenant.ID().ToStringOutput(),
			Collection: orders.Name,
			Field:      pulumi.String("customer"),
		}); err != nil {
			return err
		}
		ctx.Export("tenantId", tenant.ID())
		ctx.Export("billingClusterId", cluster.BillingClusterId)
		ctx.Export("endpoints", cluster.Endpoints)
		ctx.Export("caCertificate", cluster.CaCertificate)
		ctx.Export("adminKey", cluster.AdminKey) // secrets, like the key below
		ctx.Export("apiKey", key.Secret)
		return nil
	})
}
