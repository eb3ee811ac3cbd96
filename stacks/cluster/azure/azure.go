// Package azure builds an aerolith:index:Cluster on Azure with
// pulumi-azure-native: a resource group, a virtual network with one
// subnet, a network security group on the subnet — raft (and agent to
// agent) only from the subnet, the data API from the allowed CIDRs — and
// per node a public IP, a NIC and a Linux VM whose custom data is the
// rendered user data, everything tagged for discovery.
package azure

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	compute "github.com/pulumi/pulumi-azure-native-sdk/compute/v2"
	network "github.com/pulumi/pulumi-azure-native-sdk/network/v2"
	resources "github.com/pulumi/pulumi-azure-native-sdk/resources/v2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aerolithdb/aerolith/provisioner"
	azprov "github.com/aerolithdb/aerolith/provisioner/azure"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
	"github.com/aerolithdb/aerolith/stacks/cluster"
)

// DefaultImage is the image (publisher:offer:sku:version) of nodes whose
// spec names none.
const DefaultImage = "Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest"

// Builder is the Azure cluster.Builder.
type Builder struct {
	// AddressSpace is the virtual network's ("" for 10.70.0.0/16); the
	// nodes' subnet is its first /24.
	AddressSpace string
	// SSHPublicKey is the VMs' admin user's key (Azure requires one).
	SSHPublicKey string
	// SubscriptionID is where unmanaged nodes list their peers (the
	// subscription the program deploys to).
	SubscriptionID string
	// ResourceGroup, optional, is an existing group (its owner's, under
	// its policies and RBAC) the cluster's resources go into; the stack
	// never creates or deletes it. Empty: a group of the cluster's own,
	// aerolith-NAME, created and deleted with the stack.
	ResourceGroup string
}

var _ cluster.Builder = Builder{}

// Discover is the agent's tag discovery on Azure, as the provisioner's
// deployment sets it for azure clusters: the tagged VMs of the cluster's
// resource group, the given one or aerolith-NAME, which Build creates
// (managed clusters discover through billing whatever the cloud).
func (b Builder) Discover(spec *provisioner.ClusterSpec) string {
	return deployment.Discover(&deployment.Record{Spec: *spec, Azure: &deployment.AzureSettings{Subscription: b.SubscriptionID, ResourceGroup: b.ResourceGroup}})
}

// Subnet is the nodes' subnet of the address space.
func (b Builder) Subnet() string {
	space := b.AddressSpace
	if space == "" {
		space = "10.70.0.0/16"
	}
	base, _, _ := strings.Cut(space, "/")
	oct := strings.Split(base, ".")
	if len(oct) != 4 {
		return space
	}
	return oct[0] + "." + oct[1] + "." + oct[2] + ".0/24"
}

// Build implements cluster.Builder.
func (b Builder) Build(ctx *pulumi.Context, parent pulumi.Resource, spec *provisioner.ClusterSpec, userData func(int) pulumi.StringOutput) ([]cluster.Node, error) {
	if b.SSHPublicKey == "" {
		return nil, fmt.Errorf("cluster %s: azure VMs need an SSH public key", spec.Name)
	}
	image := spec.Image
	if image == "" {
		image = DefaultImage
	}
	img := strings.Split(image, ":")
	if len(img) != 4 {
		return nil, fmt.Errorf("cluster %s: image %q: want publisher:offer:sku:version", spec.Name, image)
	}
	opt := pulumi.Parent(parent)
	loc := pulumi.String(spec.Region)
	tags := cluster.Tags(spec, 0)
	space := b.AddressSpace
	if space == "" {
		space = "10.70.0.0/16"
	}
	subnetCIDR := b.Subnet()
	var rgName pulumi.StringInput = pulumi.String(b.ResourceGroup)
	if b.ResourceGroup != "" {
		if err := azprov.ValidateResourceGroup(b.ResourceGroup); err != nil {
			return nil, fmt.Errorf("cluster %s: %w", spec.Name, err)
		}
	} else {
		rg, err := resources.NewResourceGroup(ctx, spec.Name+"-rg", &resources.ResourceGroupArgs{
			ResourceGroupName: pulumi.String("aerolith-" + spec.Name), Location: loc, Tags: tags,
		}, opt)
		if err != nil {
			return nil, err
		}
		rgName = rg.Name
	}
	rules := network.SecurityRuleTypeArray{network.SecurityRuleTypeArgs{
		Name: pulumi.String("raft"), Priority: pulumi.Int(100), Direction: pulumi.String("Inbound"), Access: pulumi.String("Allow"),
		Protocol: pulumi.String("Tcp"), SourcePortRange: pulumi.String("*"),
		DestinationPortRanges:    pulumi.StringArray{pulumi.String(strconv.Itoa(cluster.APIPort)), pulumi.String(strconv.Itoa(cluster.RaftPort))},
		SourceAddressPrefix:      pulumi.String(subnetCIDR),
		DestinationAddressPrefix: pulumi.String(subnetCIDR),
		Description:              pulumi.String("raft and agent to agent between the cluster's nodes"),
	}}
	if len(spec.AllowedCIDRs) > 0 {
		rules = append(rules, network.SecurityRuleTypeArgs{
			Name: pulumi.String("api"), Priority: pulumi.Int(110), Direction: pulumi.String("Inbound"), Access: pulumi.String("Allow"),
			Protocol: pulumi.String("Tcp"), SourcePortRange: pulumi.String("*"),
			DestinationPortRange:     pulumi.String(strconv.Itoa(cluster.APIPort)),
			SourceAddressPrefixes:    pulumi.ToStringArray(spec.AllowedCIDRs),
			DestinationAddressPrefix: pulumi.String("*"),
			Description:              pulumi.String("data API clients"),
		})
	}
	nsg, err := network.NewNetworkSecurityGroup(ctx, spec.Name+"-nsg", &network.NetworkSecurityGroupArgs{
		ResourceGroupName: rgName, Location: loc, NetworkSecurityGroupName: pulumi.String("aerolith-" + spec.Name),
		SecurityRules: rules, Tags: tags,
	}, opt)
	if err != nil {
		return nil, err
	}
	vnet, err := network.NewVirtualNetwork(ctx, spec.Name+"-vnet", &network.VirtualNetworkArgs{
		ResourceGroupName: rgName, Location: loc, VirtualNetworkName: pulumi.String("aerolith-" + spec.Name),
		AddressSpace: network.AddressSpaceArgs{AddressPrefixes: pulumi.StringArray{pulumi.String(space)}}, Tags: tags,
	}, opt)
	if err != nil {
		return nil, err
	}
	subnet, err := network.NewSubnet(ctx, spec.Name+"-subnet", &network.SubnetArgs{
		ResourceGroupName: rgName, VirtualNetworkName: vnet.Name, SubnetName: pulumi.String("nodes"),
		AddressPrefix:        pulumi.String(subnetCIDR),
		NetworkSecurityGroup: network.NetworkSecurityGroupTypeArgs{Id: nsg.ID()},
	}, opt)
	if err != nil {
		return nil, err
	}
	var nodes []cluster.Node
	for i := 1; i <= spec.Nodes; i++ {
		id := provisioner.NodeID(spec.Name, i)
		ntags := cluster.Tags(spec, i)
		pip, err := network.NewPublicIPAddress(ctx, id+"-ip", &network.PublicIPAddressArgs{
			ResourceGroupName: rgName, Location: loc, PublicIpAddressName: pulumi.String(id),
			PublicIPAllocationMethod: pulumi.String("Static"), Sku: network.PublicIPAddressSkuArgs{Name: pulumi.String("Standard")}, Tags: ntags,
		}, opt)
		if err != nil {
			return nil, err
		}
		nic, err := network.NewNetworkInterface(ctx, id+"-nic", &network.NetworkInterfaceArgs{
			ResourceGroupName: rgName, Location: loc, NetworkInterfaceName: pulumi.String(id), Tags: ntags,
			IpConfigurations: network.NetworkInterfaceIPConfigurationArray{network.NetworkInterfaceIPConfigurationArgs{
				Name: pulumi.String("primary"), PrivateIPAllocationMethod: pulumi.String("Dynamic"),
				Subnet:          network.SubnetTypeArgs{Id: subnet.ID()},
				PublicIPAddress: network.PublicIPAddressTypeArgs{Id: pip.ID()},
			}},
		}, opt)
		if err != nil {
			return nil, err
		}
		if _, err := compute.NewVirtualMachine(ctx, id, &compute.VirtualMachineArgs{
			ResourceGroupName: rgName, Location: loc, VmName: pulumi.String(id), Tags: ntags,
			HardwareProfile: compute.HardwareProfileArgs{VmSize: pulumi.String(spec.InstanceType)},
			NetworkProfile: compute.NetworkProfileArgs{NetworkInterfaces: compute.NetworkInterfaceReferenceArray{
				compute.NetworkInterfaceReferenceArgs{Id: nic.ID()},
			}},
			OsProfile: compute.OSProfileArgs{
				ComputerName: pulumi.String(id), AdminUsername: pulumi.String("aerolith"),
				CustomData: userData(i).ApplyT(func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }).(pulumi.StringOutput),
				LinuxConfiguration: compute.LinuxConfigurationArgs{
					DisablePasswordAuthentication: pulumi.Bool(true),
					Ssh: compute.SshConfigurationArgs{PublicKeys: compute.SshPublicKeyTypeArray{compute.SshPublicKeyTypeArgs{
						Path: pulumi.String("/home/aerolith/.ssh/authorized_keys"), KeyData: pulumi.String(b.SSHPublicKey),
					}}},
				},
			},
			StorageProfile: compute.StorageProfileArgs{
				ImageReference: compute.ImageReferenceArgs{Publisher: pulumi.String(img[0]), Offer: pulumi.String(img[1]), Sku: pulumi.String(img[2]), Version: pulumi.String(img[3])},
				OsDisk: compute.OSDiskArgs{CreateOption: pulumi.String("FromImage"), DiskSizeGB: pulumi.Int(spec.DiskGB),
					ManagedDisk: compute.ManagedDiskParametersArgs{StorageAccountType: pulumi.String("Premium_LRS")}},
			},
		}, opt); err != nil {
			return nil, err
		}
		nodes = append(nodes, cluster.Node{
			ID: id, PublicIP: pip.IpAddress.Elem(),
			PrivateIP: nic.IpConfigurations.Index(pulumi.Int(0)).PrivateIPAddress().Elem(),
		})
	}
	return nodes, nil
}
