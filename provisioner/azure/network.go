package azure

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	"github.com/aerolithdb/aerolith/provisioner"
)

// EnsureNetwork creates or repairs the cluster-wide resources: the
// resource group (unless one was given, which must exist), the network
// security group and the virtual network whose subnet carries it. Each is
// a PUT of the whole resource, so a rerun also restores rules changed by
// hand and drops CIDRs the spec no longer allows.
func (d *Driver) EnsureNetwork(ctx context.Context, spec *provisioner.ClusterSpec) error {
	if err := d.checkLocation(spec); err != nil {
		return err
	}
	rg := d.group(spec)
	tags := tagsOf(provisioner.ResourceTags(spec, ""))
	if d.cfg.ResourceGroup == "" {
		if _, err := d.rgs.CreateOrUpdate(ctx, rg, armresources.ResourceGroup{Location: ptr(spec.Region), Tags: tags}, nil); err != nil {
			return fmt.Errorf("azure: resource group %s: %w", rg, err)
		}
	} else if _, err := d.rgs.Get(ctx, rg, nil); status(err) == http.StatusNotFound {
		// A given group is the owner's (its policies, its RBAC): never made here.
		return fmt.Errorf("azure: resource group %s does not exist in subscription %s: create it first (the cluster is put into a given group, never creates one), or give none for a group of the cluster's own: %w", rg, d.sub, err)
	} else if err != nil {
		return fmt.Errorf("azure: resource group %s (given): %w", rg, err)
	}
	p, err := d.nsgs.BeginCreateOrUpdate(ctx, rg, nsgName(spec.Name), armnetwork.SecurityGroup{
		Location: ptr(spec.Region), Tags: tags,
		Properties: &armnetwork.SecurityGroupPropertiesFormat{SecurityRules: securityRules(spec)},
	}, nil)
	if err := wait(ctx, d, p, err); err != nil {
		return fmt.Errorf("azure: network security group %s: %w", nsgName(spec.Name), err)
	}
	vp, err := d.nets.BeginCreateOrUpdate(ctx, rg, vnetName(spec.Name), armnetwork.VirtualNetwork{
		Location: ptr(spec.Region), Tags: tags,
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{
			AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{ptr(VNetCIDR)}},
			Subnets: []*armnetwork.Subnet{{Name: ptr(SubnetName), Properties: &armnetwork.SubnetPropertiesFormat{
				AddressPrefix:        ptr(SubnetCIDR),
				NetworkSecurityGroup: &armnetwork.SecurityGroup{ID: ptr(d.id(rg, "Microsoft.Network/networkSecurityGroups", nsgName(spec.Name)))},
			}}},
		},
	}, nil)
	if err := wait(ctx, d, vp, err); err != nil {
		return fmt.Errorf("azure: virtual network %s: %w", vnetName(spec.Name), err)
	}
	return nil
}

// securityRules are the NSG's rules: raft and agent-to-agent traffic only
// from the cluster's subnet, the data API from the allowed CIDRs, every
// other inbound packet denied (ahead of Azure's default rules, which
// would admit the whole virtual network and the load balancer).
func securityRules(spec *provisioner.ClusterSpec) []*armnetwork.SecurityRule {
	rule := func(name string, prio int32, port int, from []string, access armnetwork.SecurityRuleAccess) *armnetwork.SecurityRule {
		p := &armnetwork.SecurityRulePropertiesFormat{
			Priority: ptr(prio), Direction: ptr(armnetwork.SecurityRuleDirectionInbound), Access: ptr(access),
			Protocol: ptr(armnetwork.SecurityRuleProtocolTCP), SourcePortRange: ptr("*"),
			DestinationAddressPrefix: ptr(SubnetCIDR), DestinationPortRange: ptr(fmt.Sprint(port)),
		}
		if port == 0 {
			p.Protocol, p.DestinationPortRange, p.DestinationAddressPrefix = ptr(armnetwork.SecurityRuleProtocolAsterisk), ptr("*"), ptr("*")
		}
		if len(from) == 1 {
			p.SourceAddressPrefix = ptr(from[0])
		} else {
			for _, f := range from {
				p.SourceAddressPrefixes = append(p.SourceAddressPrefixes, ptr(f))
			}
		}
		return &armnetwork.SecurityRule{Name: ptr(name), Properties: p}
	}
	rules := []*armnetwork.SecurityRule{
		rule("raft-within-cluster", 100, RaftPort, []string{SubnetCIDR}, armnetwork.SecurityRuleAccessAllow),
		rule("agents-within-cluster", 110, APIPort, []string{SubnetCIDR}, armnetwork.SecurityRuleAccessAllow),
	}
	if len(spec.AllowedCIDRs) > 0 {
		rules = append(rules, rule("api-from-allowed-cidrs", 120, APIPort, spec.AllowedCIDRs, armnetwork.SecurityRuleAccessAllow))
	}
	return append(rules, rule("deny-other-inbound", 4000, 0, []string{"*"}, armnetwork.SecurityRuleAccessDeny))
}

// DeleteNetwork implements provisioner.Driver: whatever of the cluster is
// still there (VMs whose provisioning failed, NICs and public IPs of an
// interrupted launch) goes first, in dependency order, then the virtual
// network, the security group and the resource group this driver made.
// ARM refuses to delete what is still in use (409); such a delete is
// retried once its users are gone.
func (d *Driver) DeleteNetwork(ctx context.Context, spec *provisioner.ClusterSpec) error {
	rg := d.group(spec)
	for {
		err := d.deleteNetworkOnce(ctx, spec, rg)
		if status(err) != http.StatusConflict {
			return err
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return fmt.Errorf("azure: network of %s still in use: %w", spec.Name, err)
		}
	}
}

func (d *Driver) deleteNetworkOnce(ctx context.Context, spec *provisioner.ClusterSpec, rg string) error {
	insts, err := d.Instances(ctx, spec)
	if err != nil {
		return err
	}
	for _, in := range insts {
		if err := d.Terminate(ctx, spec, in); err != nil {
			return err
		}
	}
	// NICs and public IPs whose VM never came (a launch interrupted
	// between them).
	nics, err := d.listNICs(ctx, rg, spec.Name)
	if err != nil {
		return err
	}
	for _, n := range nics {
		p, err := d.nics.BeginDelete(ctx, rg, *n.Name, nil)
		if err := gone(wait(ctx, d, p, err)); err != nil {
			return fmt.Errorf("azure: delete network interface %s: %w", *n.Name, err)
		}
	}
	pips, err := d.listPIPs(ctx, rg, spec.Name)
	if err != nil {
		return err
	}
	for _, ip := range pips {
		p, err := d.pips.BeginDelete(ctx, rg, *ip.Name, nil)
		if err := gone(wait(ctx, d, p, err)); err != nil {
			return fmt.Errorf("azure: delete public IP %s: %w", *ip.Name, err)
		}
	}
	vp, err := d.nets.BeginDelete(ctx, rg, vnetName(spec.Name), nil)
	if err := gone(wait(ctx, d, vp, err)); err != nil {
		return fmt.Errorf("azure: delete virtual network %s: %w", vnetName(spec.Name), err)
	}
	np, err := d.nsgs.BeginDelete(ctx, rg, nsgName(spec.Name), nil)
	if err := gone(wait(ctx, d, np, err)); err != nil {
		return fmt.Errorf("azure: delete network security group %s: %w", nsgName(spec.Name), err)
	}
	if d.cfg.ResourceGroup != "" {
		return nil
	}
	// The group is deleted only when it is this cluster's own.
	g, err := d.rgs.Get(ctx, rg, nil)
	if status(err) == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("azure: resource group %s: %w", rg, err)
	}
	if v := g.Tags[provisioner.TagCluster]; v == nil || *v != spec.Name {
		return fmt.Errorf("azure: resource group %s is not tagged %s=%s; not deleting it", rg, provisioner.TagCluster, spec.Name)
	}
	gp, err := d.rgs.BeginDelete(ctx, rg, nil)
	if err := gone(wait(ctx, d, gp, err)); err != nil {
		return fmt.Errorf("azure: delete resource group %s: %w", rg, err)
	}
	return nil
}

func hasTag(tags map[string]*string, k, v string) bool {
	t, ok := tags[k]
	return ok && t != nil && *t == v
}

// listNICs lists the cluster's network interfaces (every page).
func (d *Driver) listNICs(ctx context.Context, rg, cluster string) ([]*armnetwork.Interface, error) {
	var out []*armnetwork.Interface
	pager := d.nics.NewListPager(rg, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if status(err) == http.StatusNotFound {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("azure: list network interfaces: %w", err)
		}
		for _, n := range page.Value {
			if hasTag(n.Tags, provisioner.TagCluster, cluster) {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// listPIPs lists the cluster's public IPs (every page).
func (d *Driver) listPIPs(ctx context.Context, rg, cluster string) ([]*armnetwork.PublicIPAddress, error) {
	var out []*armnetwork.PublicIPAddress
	pager := d.pips.NewListPager(rg, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if status(err) == http.StatusNotFound {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("azure: list public IPs: %w", err)
		}
		for _, ip := range page.Value {
			if hasTag(ip.Tags, provisioner.TagCluster, cluster) {
				out = append(out, ip)
			}
		}
	}
	return out, nil
}

func lastSegment(id string) string { return id[strings.LastIndex(id, "/")+1:] }
