package discover

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

// azureProvider finds the provisioned VMs carrying a tag.
type azureProvider struct {
	vms                  *armcompute.VirtualMachinesClient
	nics                 *armnetwork.InterfacesClient
	sub, group, endpoint string
	tagKey, tagValue     string
	port                 int
}

// NewAzure returns the cloud-tag provider of a ProviderAzure config: the
// private addresses (primary NIC) of the VMs of subscription_id (of
// resource_group when given) tagged tag_key=tag_value whose provisioning
// succeeded, each with port (the setting, else raftPort). Both lists
// follow every nextLink page. Credentials come from azidentity's
// DefaultAzureCredential (a VM's managed identity, or the AZURE_CLIENT_*
// environment); endpoint overrides ARM (and the token audience): a
// simulator. It does no network I/O.
func NewAzure(ctx context.Context, c Config, raftPort int) (Provider, error) {
	if c.Provider != ProviderAzure {
		return nil, fmt.Errorf("discover: provider %q is not %s", c.Provider, ProviderAzure)
	}
	port := raftPort
	if p := c.Args["port"]; p != "" {
		port, _ = strconv.Atoi(p) // checked by Parse
	}
	if port <= 0 {
		return nil, errNoPort
	}
	cloudCfg := cloud.AzurePublic
	endpoint := strings.TrimSuffix(c.Args["endpoint"], "/")
	insecure := false
	if endpoint != "" {
		cloudCfg.Services = map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: {Endpoint: endpoint, Audience: endpoint}}
		u, _ := url.Parse(endpoint) // checked by Parse
		insecure = u.Scheme == "http"
	}
	cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: azcore.ClientOptions{Cloud: cloudCfg}})
	if err != nil {
		return nil, fmt.Errorf("discover: azure credentials: %w", err)
	}
	opts := &arm.ClientOptions{ClientOptions: policy.ClientOptions{Cloud: cloudCfg, InsecureAllowCredentialWithHTTP: insecure}}
	vms, err := armcompute.NewVirtualMachinesClient(c.Args["subscription_id"], cred, opts)
	if err != nil {
		return nil, fmt.Errorf("discover: azure: %w", err)
	}
	nics, err := armnetwork.NewInterfacesClient(c.Args["subscription_id"], cred, opts)
	if err != nil {
		return nil, fmt.Errorf("discover: azure: %w", err)
	}
	return &azureProvider{vms: vms, nics: nics, sub: c.Args["subscription_id"], group: c.Args["resource_group"], endpoint: endpoint,
		tagKey: c.Args["tag_key"], tagValue: c.Args["tag_value"], port: port}, nil
}

func (a *azureProvider) String() string {
	s := fmt.Sprintf("azure subscription=%s", a.sub)
	if a.group != "" {
		s += " resource_group=" + a.group
	}
	s += fmt.Sprintf(" tag %s=%s", a.tagKey, a.tagValue)
	if a.endpoint != "" {
		s += " endpoint=" + a.endpoint
	}
	return s
}

// Addrs lists the tagged VMs, then the NICs, and joins them.
func (a *azureProvider) Addrs(ctx context.Context) ([]string, error) {
	want := map[string]bool{} // lower primary NIC ids of the tagged VMs
	add := func(vms []*armcompute.VirtualMachine) {
		for _, vm := range vms {
			t := vm.Tags[a.tagKey]
			p := vm.Properties
			if t == nil || *t != a.tagValue || p == nil || p.ProvisioningState == nil || *p.ProvisioningState != "Succeeded" ||
				p.NetworkProfile == nil || len(p.NetworkProfile.NetworkInterfaces) == 0 || p.NetworkProfile.NetworkInterfaces[0].ID == nil {
				continue
			}
			want[strings.ToLower(*p.NetworkProfile.NetworkInterfaces[0].ID)] = true
		}
	}
	if a.group != "" {
		pages := a.vms.NewListPager(a.group, nil)
		for pages.More() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("azure list virtual machines: %w", err)
			}
			add(page.Value)
		}
	} else {
		pages := a.vms.NewListAllPager(nil)
		for pages.More() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("azure list virtual machines: %w", err)
			}
			add(page.Value)
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	var out []string
	take := func(nics []*armnetwork.Interface) {
		for _, n := range nics {
			if n.ID == nil || !want[strings.ToLower(*n.ID)] || n.Properties == nil || len(n.Properties.IPConfigurations) == 0 {
				continue
			}
			if c := n.Properties.IPConfigurations[0].Properties; c != nil && c.PrivateIPAddress != nil && *c.PrivateIPAddress != "" {
				out = append(out, hostPort(*c.PrivateIPAddress, a.port))
			}
		}
	}
	if a.group != "" {
		pages := a.nics.NewListPager(a.group, nil)
		for pages.More() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("azure list network interfaces: %w", err)
			}
			take(page.Value)
		}
	} else {
		pages := a.nics.NewListAllPager(nil)
		for pages.More() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("azure list network interfaces: %w", err)
			}
			take(page.Value)
		}
	}
	return out, nil
}
