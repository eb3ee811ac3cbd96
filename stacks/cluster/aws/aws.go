// Package aws builds an aerolith:index:Cluster on AWS with pulumi-aws:
// the topology of the provisioner's aws driver (provisioner/aws) — one
// security group whose raft rule references the group itself, the data
// API open to the group and to each allowed CIDR, one instance per node
// with the rendered user data, every resource tagged for discovery.
package aws

import (
	"encoding/base64"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
	"github.com/aerolithdb/aerolith/stacks/cluster"
)

// DefaultImage is the AMI of nodes whose spec names none (the one the
// provisioner's aws driver uses).
const DefaultImage = "ami-0c02fb55956c7d316"

// Builder is the AWS cluster.Builder.
type Builder struct {
	// VpcID and SubnetID place the cluster ("" for the default VPC).
	VpcID    string
	SubnetID string
}

var _ cluster.Builder = Builder{}

// Discover is the agent's tag discovery on EC2 (as the provisioner's
// deployment sets it for aws clusters).
func (Builder) Discover(spec *provisioner.ClusterSpec) string {
	return deployment.Discover(&deployment.Record{Spec: *spec})
}

// Build implements cluster.Builder.
func (b Builder) Build(ctx *pulumi.Context, parent pulumi.Resource, spec *provisioner.ClusterSpec, userData func(int) pulumi.StringOutput) ([]cluster.Node, error) {
	opt := pulumi.Parent(parent)
	sgArgs := &ec2.SecurityGroupArgs{
		Name:        pulumi.String("aerolith-" + spec.Name),
		Description: pulumi.String("Aerolith cluster " + spec.Name + ": raft between members, data API from allowed CIDRs"),
		Tags:        cluster.Tags(spec, 0),
		Egress: ec2.SecurityGroupEgressArray{ec2.SecurityGroupEgressArgs{
			Protocol: pulumi.String("-1"), FromPort: pulumi.Int(0), ToPort: pulumi.Int(0),
			CidrBlocks: pulumi.StringArray{pulumi.String("0.0.0.0/0")}, Description: pulumi.String("agent downloads, billing, cloud API"),
		}},
	}
	if b.VpcID != "" {
		sgArgs.VpcId = pulumi.String(b.VpcID)
	}
	sg, err := ec2.NewSecurityGroup(ctx, spec.Name+"-sg", sgArgs, opt)
	if err != nil {
		return nil, err
	}
	rule := func(name string, port int, args *ec2.SecurityGroupRuleArgs) error {
		args.Type = pulumi.String("ingress")
		args.Protocol = pulumi.String("tcp")
		args.FromPort = pulumi.Int(port)
		args.ToPort = pulumi.Int(port)
		args.SecurityGroupId = sg.ID()
		_, err := ec2.NewSecurityGroupRule(ctx, spec.Name+"-"+name, args, opt)
		return err
	}
	if err := rule("raft", cluster.RaftPort, &ec2.SecurityGroupRuleArgs{Self: pulumi.Bool(true), Description: pulumi.String("raft between the cluster's nodes")}); err != nil {
		return nil, err
	}
	if err := rule("api-members", cluster.APIPort, &ec2.SecurityGroupRuleArgs{Self: pulumi.Bool(true), Description: pulumi.String("agent to agent (join, liveness)")}); err != nil {
		return nil, err
	}
	if len(spec.AllowedCIDRs) > 0 {
		if err := rule("api", cluster.APIPort, &ec2.SecurityGroupRuleArgs{CidrBlocks: pulumi.ToStringArray(spec.AllowedCIDRs), Description: pulumi.String("data API clients")}); err != nil {
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
		tags := cluster.Tags(spec, i)
		tags["Name"] = pulumi.String(id)
		args := &ec2.InstanceArgs{
			Ami:                 pulumi.String(image),
			InstanceType:        pulumi.String(spec.InstanceType),
			VpcSecurityGroupIds: pulumi.StringArray{sg.ID()},
			UserDataBase64: userData(i).ApplyT(func(s string) string {
				return base64.StdEncoding.EncodeToString([]byte(s))
			}).(pulumi.StringOutput),
			RootBlockDevice: ec2.InstanceRootBlockDeviceArgs{
				VolumeSize: pulumi.Int(spec.DiskGB), VolumeType: pulumi.String("gp3"),
				Encrypted: pulumi.Bool(true), DeleteOnTermination: pulumi.Bool(true),
			},
			MetadataOptions: ec2.InstanceMetadataOptionsArgs{HttpTokens: pulumi.String("required")},
			Tags:            tags,
			VolumeTags:      tags,
		}
		if spec.Zone != "" {
			args.AvailabilityZone = pulumi.String(spec.Zone)
		}
		if b.SubnetID != "" {
			args.SubnetId = pulumi.String(b.SubnetID)
		}
		in, err := ec2.NewInstance(ctx, id, args, opt)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, cluster.Node{ID: id, PublicIP: in.PublicIp, PrivateIP: in.PrivateIp})
	}
	return nodes, nil
}
