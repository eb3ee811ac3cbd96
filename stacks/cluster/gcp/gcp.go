// Package gcp builds an aerolith:index:Cluster on GCP with pulumi-gcp:
// two firewall rules selecting the cluster's nodes by a network tag — raft
// (and agent to agent) only from nodes carrying the tag, the data API
// from the allowed CIDRs — and one instance per node whose user-data
// metadata key holds the rendered user data (cloud-init reads it on GCE),
// labelled for discovery.
package gcp

import (
	"strconv"

	"github.com/pulumi/pulumi-gcp/sdk/v9/go/gcp/compute"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
	"github.com/aerolithdb/aerolith/stacks/cluster"
)

// DefaultImage is the boot image of nodes whose spec names none.
const DefaultImage = "debian-cloud/debian-12"

// Builder is the GCP cluster.Builder.
type Builder struct {
	Project string
	// Network is the VPC network ("" for "default").
	Network string
}

var _ cluster.Builder = Builder{}

// NetworkTag selects the cluster's nodes in its firewall rules.
func NetworkTag(spec *provisioner.ClusterSpec) string { return "aerolith-" + spec.Name }

// Discover is the agent's label discovery on GCE, as the provisioner's
// deployment sets it for gcp clusters (managed clusters discover through
// billing whatever the cloud).
func (b Builder) Discover(spec *provisioner.ClusterSpec) string {
	return deployment.Discover(&deployment.Record{Spec: *spec, Project: b.Project})
}

// Build implements cluster.Builder.
func (b Builder) Build(ctx *pulumi.Context, parent pulumi.Resource, spec *provisioner.ClusterSpec, userData func(int) pulumi.StringOutput) ([]cluster.Node, error) {
	opt := pulumi.Parent(parent)
	network := b.Network
	if network == "" {
		network = "default"
	}
	tag := NetworkTag(spec)
	port := func(p int) pulumi.StringInput { return pulumi.String(strconv.Itoa(p)) }
	if _, err := compute.NewFirewall(ctx, spec.Name+"-raft", &compute.FirewallArgs{
		Name: pulumi.String("aerolith-" + spec.Name + "-raft"), Project: pulumi.String(b.Project), Network: pulumi.String(network),
		Description: pulumi.String("raft and agent to agent between the cluster's nodes"),
		SourceTags:  pulumi.StringArray{pulumi.String(tag)}, TargetTags: pulumi.StringArray{pulumi.String(tag)},
		Allows: compute.FirewallAllowArray{compute.FirewallAllowArgs{Protocol: pulumi.String("tcp"),
			Ports: pulumi.StringArray{port(cluster.APIPort), port(cluster.RaftPort)}}},
	}, opt); err != nil {
		return nil, err
	}
	if len(spec.AllowedCIDRs) > 0 {
		if _, err := compute.NewFirewall(ctx, spec.Name+"-api", &compute.FirewallArgs{
			Name: pulumi.String("aerolith-" + spec.Name + "-api"), Project: pulumi.String(b.Project), Network: pulumi.String(network),
			Description:  pulumi.String("data API clients"),
			SourceRanges: pulumi.ToStringArray(spec.AllowedCIDRs), TargetTags: pulumi.StringArray{pulumi.String(tag)},
			Allows: compute.FirewallAllowArray{compute.FirewallAllowArgs{Protocol: pulumi.String("tcp"),
				Ports: pulumi.StringArray{port(cluster.APIPort)}}},
		}, opt); err != nil {
			return nil, err
		}
	}
	image := spec.Image
	if image == "" {
		image = DefaultImage
	}
	var nodes []cluster.Node
	for i := 1; i <= spec.Nodes; i++ {
		id := provisioner.NodeID(spec.Name, i)
		in, err := compute.NewInstance(ctx, id, &compute.InstanceArgs{
			Name: pulumi.String(id), Project: pulumi.String(b.Project), Zone: pulumi.String(spec.Zone),
			MachineType: pulumi.String(spec.InstanceType),
			Tags:        pulumi.StringArray{pulumi.String(tag)},
			Labels:      cluster.Tags(spec, i),
			BootDisk: compute.InstanceBootDiskArgs{InitializeParams: compute.InstanceBootDiskInitializeParamsArgs{
				Image: pulumi.String(image), Size: pulumi.Int(spec.DiskGB), Type: pulumi.String("pd-balanced"),
			}},
			NetworkInterfaces: compute.InstanceNetworkInterfaceArray{compute.InstanceNetworkInterfaceArgs{
				Network:       pulumi.String(network),
				AccessConfigs: compute.InstanceNetworkInterfaceAccessConfigArray{compute.InstanceNetworkInterfaceAccessConfigArgs{}},
			}},
			Metadata: pulumi.StringMap{"user-data": userData(i)},
			ServiceAccount: compute.InstanceServiceAccountArgs{
				// compute.readonly: agents list instances by label to find each other.
				Scopes: pulumi.StringArray{pulumi.String("https://www.googleapis.com/auth/compute.readonly")},
			},
		}, opt)
		if err != nil {
			return nil, err
		}
		nic := in.NetworkInterfaces.Index(pulumi.Int(0))
		nodes = append(nodes, cluster.Node{
			ID:        id,
			PrivateIP: nic.NetworkIp().Elem(),
			PublicIP:  nic.AccessConfigs().Index(pulumi.Int(0)).NatIp().Elem(),
		})
	}
	return nodes, nil
}
