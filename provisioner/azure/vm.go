package azure

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/aerolithdb/aerolith/provisioner"
)

// Launch implements provisioner.Driver: a public IP, a NIC in the
// cluster's subnet and the VM, each a PUT by a name derived from the
// launch token, polled to its end. A VM whose provisioning fails (no
// capacity) is answered as terminated, with the reason: the provisioner
// then launches the node again under its next token, and the failed VM is
// deleted with the cluster.
func (d *Driver) Launch(ctx context.Context, spec *provisioner.ClusterSpec, l provisioner.Launch) (provisioner.Instance, error) {
	if err := d.checkLocation(spec); err != nil {
		return provisioner.Instance{}, err
	}
	image, err := parseImage(spec.Image)
	if err != nil {
		return provisioner.Instance{}, err
	}
	rg := d.group(spec)
	name := VMName(l.NodeID, l.Token)
	tags := tagsOf(provisioner.ResourceTags(spec, l.NodeID))
	var zones []*string
	if spec.Zone != "" {
		zones = []*string{ptr(spec.Zone)}
	}
	pp, err := d.pips.BeginCreateOrUpdate(ctx, rg, pipName(name), armnetwork.PublicIPAddress{
		Location: ptr(spec.Region), Tags: tags, Zones: zones,
		SKU: &armnetwork.PublicIPAddressSKU{Name: ptr(armnetwork.PublicIPAddressSKUNameStandard)},
		Properties: &armnetwork.PublicIPAddressPropertiesFormat{
			PublicIPAllocationMethod: ptr(armnetwork.IPAllocationMethodStatic), PublicIPAddressVersion: ptr(armnetwork.IPVersionIPv4),
		},
	}, nil)
	if err := wait(ctx, d, pp, err); err != nil {
		return provisioner.Instance{}, fmt.Errorf("public IP %s: %w", pipName(name), err)
	}
	nicID := d.id(rg, "Microsoft.Network/networkInterfaces", nicName(name))
	np, err := d.nics.BeginCreateOrUpdate(ctx, rg, nicName(name), armnetwork.Interface{
		Location: ptr(spec.Region), Tags: tags,
		Properties: &armnetwork.InterfacePropertiesFormat{IPConfigurations: []*armnetwork.InterfaceIPConfiguration{{
			Name: ptr("ipconfig1"),
			Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{
				Subnet:                    &armnetwork.Subnet{ID: ptr(d.id(rg, "Microsoft.Network/virtualNetworks", vnetName(spec.Name)) + "/subnets/" + SubnetName)},
				PrivateIPAllocationMethod: ptr(armnetwork.IPAllocationMethodDynamic),
				PublicIPAddress:           &armnetwork.PublicIPAddress{ID: ptr(d.id(rg, "Microsoft.Network/publicIPAddresses", pipName(name)))},
				Primary:                   ptr(true),
			},
		}}},
	}, nil)
	if err := wait(ctx, d, np, err); err != nil {
		return provisioner.Instance{}, fmt.Errorf("network interface %s: %w", nicName(name), err)
	}
	vm := armcompute.VirtualMachine{
		Location: ptr(spec.Region), Tags: tags, Zones: zones,
		Properties: &armcompute.VirtualMachineProperties{
			HardwareProfile: &armcompute.HardwareProfile{VMSize: ptr(armcompute.VirtualMachineSizeTypes(spec.InstanceType))},
			StorageProfile: &armcompute.StorageProfile{
				ImageReference: image,
				OSDisk: &armcompute.OSDisk{
					CreateOption: ptr(armcompute.DiskCreateOptionTypesFromImage), DiskSizeGB: ptr(int32(max(spec.DiskGB, MinOSDiskGB))),
					ManagedDisk:  &armcompute.ManagedDiskParameters{StorageAccountType: ptr(armcompute.StorageAccountTypesPremiumLRS)},
					DeleteOption: ptr(armcompute.DiskDeleteOptionTypesDelete),
				},
			},
			OSProfile: &armcompute.OSProfile{
				ComputerName: ptr(name), AdminUsername: ptr(AdminUser),
				CustomData: ptr(base64.StdEncoding.EncodeToString(l.UserData)),
				LinuxConfiguration: &armcompute.LinuxConfiguration{
					DisablePasswordAuthentication: ptr(true),
					SSH: &armcompute.SSHConfiguration{PublicKeys: []*armcompute.SSHPublicKey{{
						Path: ptr("/home/" + AdminUser + "/.ssh/authorized_keys"), KeyData: ptr(d.cfg.SSHPublicKey),
					}}},
				},
			},
			NetworkProfile: &armcompute.NetworkProfile{NetworkInterfaces: []*armcompute.NetworkInterfaceReference{{
				ID: ptr(nicID), Properties: &armcompute.NetworkInterfaceReferenceProperties{Primary: ptr(true), DeleteOption: ptr(armcompute.DeleteOptionsDetach)},
			}}},
		},
	}
	vp, err := d.vms.BeginCreateOrUpdate(ctx, rg, name, vm, nil)
	if code(err) == "PropertyChangeNotAllowed" {
		// The VM of this token exists already, made by an earlier run whose
		// user data differed (it launched as an initial node): it is this
		// launch's VM.
		err = nil
		vp = nil
	}
	if err != nil {
		return provisioner.Instance{}, fmt.Errorf("virtual machine %s: %w", name, err)
	}
	if vp != nil {
		if err := wait(ctx, d, vp, nil); err != nil {
			// An operation that ended Failed (its status document answered
			// 200) is the VM's provisioning failure: the VM exists, failed.
			// Any other error is the caller's.
			if s := status(err); s == 0 || s >= 300 {
				return provisioner.Instance{}, fmt.Errorf("virtual machine %s: %w", name, err)
			}
			return provisioner.Instance{ID: d.id(rg, "Microsoft.Compute/virtualMachines", name), NodeID: l.NodeID,
				State: provisioner.Terminated, Reason: "provisioning failed: " + code(err)}, nil
		}
	}
	got, err := d.vms.Get(ctx, rg, name, nil)
	if status(err) == http.StatusNotFound {
		// Made, not yet visible to reads.
		return provisioner.Instance{ID: d.id(rg, "Microsoft.Compute/virtualMachines", name), NodeID: l.NodeID, State: provisioner.Pending}, nil
	}
	if err != nil {
		return provisioner.Instance{}, fmt.Errorf("virtual machine %s: %w", name, err)
	}
	return toInstance(&got.VirtualMachine, nil), nil
}

// parseImage reads an image URN, publisher:offer:sku:version.
func parseImage(urn string) (*armcompute.ImageReference, error) {
	if urn == "" {
		urn = DefaultImage
	}
	p := strings.Split(urn, ":")
	if len(p) != 4 || p[0] == "" || p[1] == "" || p[2] == "" || p[3] == "" {
		return nil, fmt.Errorf("azure: image %q is not an image URN publisher:offer:sku:version (e.g. %s)", urn, DefaultImage)
	}
	return &armcompute.ImageReference{Publisher: ptr(p[0]), Offer: ptr(p[1]), SKU: ptr(p[2]), Version: ptr(p[3])}, nil
}

// Instances implements provisioner.Driver: the VMs of the cluster's
// resource group tagged with its name (every page), their private and
// public addresses read from their NICs and public IPs.
func (d *Driver) Instances(ctx context.Context, spec *provisioner.ClusterSpec) ([]provisioner.Instance, error) {
	if err := d.checkLocation(spec); err != nil {
		return nil, err
	}
	rg := d.group(spec)
	var vms []*armcompute.VirtualMachine
	pager := d.vms.NewListPager(rg, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if status(err) == http.StatusNotFound && code(err) == "ResourceGroupNotFound" {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("azure: list virtual machines: %w", err)
		}
		for _, vm := range page.Value {
			if hasTag(vm.Tags, provisioner.TagCluster, spec.Name) {
				vms = append(vms, vm)
			}
		}
	}
	if len(vms) == 0 {
		return nil, nil
	}
	nics, err := d.listNICs(ctx, rg, spec.Name)
	if err != nil {
		return nil, err
	}
	pips, err := d.listPIPs(ctx, rg, spec.Name)
	if err != nil {
		return nil, err
	}
	addrs := map[string][2]string{} // lower NIC id → private, public
	pipAddr := map[string]string{}
	for _, ip := range pips {
		if ip.ID != nil && ip.Properties != nil && ip.Properties.IPAddress != nil {
			pipAddr[strings.ToLower(*ip.ID)] = *ip.Properties.IPAddress
		}
	}
	for _, n := range nics {
		if n.ID == nil || n.Properties == nil || len(n.Properties.IPConfigurations) == 0 {
			continue
		}
		c := n.Properties.IPConfigurations[0].Properties
		if c == nil {
			continue
		}
		var a [2]string
		if c.PrivateIPAddress != nil {
			a[0] = *c.PrivateIPAddress
		}
		if c.PublicIPAddress != nil && c.PublicIPAddress.ID != nil {
			a[1] = pipAddr[strings.ToLower(*c.PublicIPAddress.ID)]
		}
		addrs[strings.ToLower(*n.ID)] = a
	}
	out := make([]provisioner.Instance, 0, len(vms))
	for _, vm := range vms {
		out = append(out, toInstance(vm, addrs))
	}
	return out, nil
}

// toInstance maps a VM; its provisioningState is its lifecycle.
func toInstance(vm *armcompute.VirtualMachine, addrs map[string][2]string) provisioner.Instance {
	in := provisioner.Instance{State: provisioner.Pending}
	if vm.ID != nil {
		in.ID = *vm.ID
	}
	if t := vm.Tags[provisioner.TagNode]; t != nil {
		in.NodeID = *t
	}
	p := vm.Properties
	if p == nil {
		return in
	}
	if p.TimeCreated != nil {
		in.Launched = *p.TimeCreated
	}
	if p.ProvisioningState != nil {
		switch *p.ProvisioningState {
		case "Creating":
			in.State = provisioner.Pending
		case "Succeeded", "Updating":
			in.State = provisioner.Running
		case "Failed":
			in.State, in.Reason = provisioner.Terminated, "provisioning failed"
		case "Deleting", "Canceled":
			in.State = provisioner.Terminated
		}
	}
	if p.NetworkProfile != nil && len(p.NetworkProfile.NetworkInterfaces) > 0 && p.NetworkProfile.NetworkInterfaces[0].ID != nil {
		a := addrs[strings.ToLower(*p.NetworkProfile.NetworkInterfaces[0].ID)]
		in.PrivateIP, in.PublicIP = a[0], a[1]
	}
	return in
}

// Terminate implements provisioner.Driver: the VM, then its NIC (ARM
// refuses to delete a NIC a VM still uses), then its public IP (likewise
// while the NIC holds it). What is already gone is not an error.
func (d *Driver) Terminate(ctx context.Context, spec *provisioner.ClusterSpec, inst provisioner.Instance) error {
	rg := d.group(spec)
	name := lastSegment(inst.ID)
	if name == "" {
		return fmt.Errorf("azure: terminate: %q is not a VM id", inst.ID)
	}
	vp, err := d.vms.BeginDelete(ctx, rg, name, nil)
	if err := gone(wait(ctx, d, vp, err)); err != nil {
		return fmt.Errorf("azure: delete virtual machine %s: %w", name, err)
	}
	np, err := d.nics.BeginDelete(ctx, rg, nicName(name), nil)
	if err := gone(wait(ctx, d, np, err)); err != nil {
		return fmt.Errorf("azure: delete network interface %s: %w", nicName(name), err)
	}
	pp, err := d.pips.BeginDelete(ctx, rg, pipName(name), nil)
	if err := gone(wait(ctx, d, pp, err)); err != nil {
		return fmt.Errorf("azure: delete public IP %s: %w", pipName(name), err)
	}
	return nil
}
