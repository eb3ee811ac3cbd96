// Command aws is the Pulumi program of an Aerolith cluster on AWS: the
// aerolith:index:Cluster component over pulumi-aws (stacks/cluster/aws).
// Configuration (Pulumi.dev.yaml; the admin key and the enrollment token
// are secrets: pulumi config set --secret):
//
//	aws:region               the region
//	aerolith:clusterName     the cluster's name (3-40 of a-z, 0-9, -)
//	aerolith:nodes           1, 3, 5 or 7
//	aerolith:instanceType    e.g. t3.medium
//	aerolith:diskGb          the data disk in GiB
//	aerolith:agentUrl, aerolith:agentSha256   the agent binary and its digest
//	aerolith:allowedCidrs    a list of CIDRs that may reach the data API
//	aerolith:adminKey        (secret) the cluster admin key
//	aerolith:billingUrl, aerolith:billingClusterId, aerolith:enrollmentToken (secret)
//	                         optional: a managed cluster, enrolled with billing
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/stacks/cluster"
	"github.com/aerolithdb/aerolith/stacks/cluster/aws"
	"github.com/aerolithdb/aerolith/stacks/programs/programconfig"
)

func main() { pulumi.Run(program) }

func program(ctx *pulumi.Context) error {
	args, err := programconfig.Load(ctx, provisioner.AWS)
	if err != nil {
		return err
	}
	c, err := cluster.New(ctx, args.Spec.Name, args, aws.Builder{})
	if err != nil {
		return err
	}
	ctx.Export("endpoints", c.Endpoints)
	ctx.Export("nodeAddresses", c.NodeAddresses)
	ctx.Export("nodeIds", c.NodeIDs)
	return nil
}
