// Command azure is the Pulumi program of an Aerolith cluster on Azure: the
// aerolith:index:Cluster component over pulumi-azure-native (stacks/cluster/azure).
// Configuration (Pulumi.dev.yaml; the admin key and the enrollment token
// are secrets: pulumi config set --secret):
//
//	azure-native:location    the location; aerolith:sshPublicKey the VMs' admin key
//	aerolith:clusterName     the cluster's name (3-40 of a-z, 0-9, -)
//	aerolith:nodes           1, 3, 5 or 7
//	aerolith:instanceType    e.g. Standard_D2s_v5
//	aerolith:diskGb          the data disk in GiB
//	aerolith:agentUrl, aerolith:agentSha256   the agent binary and its digest
//	aerolith:allowedCidrs    a list of CIDRs that may reach the data API
//	aerolith:adminKey        (secret) the cluster admin key
//	aerolith:billingUrl, aerolith:billingClusterId, aerolith:enrollmentToken (secret)
//	                         optional: a managed cluster, enrolled with billing
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/stacks/cluster"
	"github.com/aerolithdb/aerolith/stacks/cluster/azure"
	"github.com/aerolithdb/aerolith/stacks/programs/programconfig"
)

func main() { pulumi.Run(program) }

func program(ctx *pulumi.Context) error {
	args, err := programconfig.Load(ctx, provisioner.Azure)
	if err != nil {
		return err
	}
	c, err := cluster.New(ctx, args.Spec.Name, args, azure.Builder{AddressSpace: config.Get(ctx, "aerolith:addressSpace"), SSHPublicKey: config.Require(ctx, "aerolith:sshPublicKey"),
		SubscriptionID: config.Get(ctx, "azure-native:subscriptionId"), ResourceGroup: config.Get(ctx, "aerolith:resourceGroup")})
	if err != nil {
		return err
	}
	ctx.Export("endpoints", c.Endpoints)
	ctx.Export("nodeAddresses", c.NodeAddresses)
	ctx.Export("nodeIds", c.NodeIDs)
	return nil
}
