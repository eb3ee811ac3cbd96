package cloudsim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The resource types' own rules: what a PUT must hold, what it refers to
// (and so what a DELETE must wait for), and the fields ARM fills in.

type idRef struct {
	ID string `json:"id"`
}

func decodeProps(props map[string]any, v any) *apiError {
	b, _ := json.Marshal(props)
	if err := json.Unmarshal(b, v); err != nil {
		return armErr(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: %s.", clipStr(err.Error()))
	}
	return nil
}

func badParam(target, format string, args ...any) *apiError {
	return armErr(400, "InvalidParameter", "%s Target: '%s'.", fmt.Sprintf(format, args...), target)
}

// lookup returns the resource of id and type typ, nil when missing.
func (s *Server) lookup(id, typ string) *armResource {
	r, ok := s.arm.resources[strings.ToLower(id)]
	if !ok || r.typ != typ || !r.deleteAt.IsZero() {
		return nil
	}
	return r
}

func missingRef(id string) *apiError {
	return armErr(400, "InvalidResourceReference", "Resource %s referenced by the request was not found.", clipStr(id))
}

func (s *Server) putVNet(nr, old *armResource) *apiError {
	var p struct {
		AddressSpace *struct {
			AddressPrefixes []string `json:"addressPrefixes"`
		} `json:"addressSpace"`
		Subnets []struct {
			Name       string `json:"name"`
			Properties struct {
				AddressPrefix        string `json:"addressPrefix"`
				NetworkSecurityGroup *idRef `json:"networkSecurityGroup"`
			} `json:"properties"`
		} `json:"subnets"`
	}
	if err := decodeProps(nr.props, &p); err != nil {
		return err
	}
	if p.AddressSpace == nil || len(p.AddressSpace.AddressPrefixes) == 0 {
		return badParam("properties.addressSpace.addressPrefixes", "A virtual network needs at least one address prefix.")
	}
	var space []netip.Prefix
	for _, a := range p.AddressSpace.AddressPrefixes {
		pf, err := netip.ParsePrefix(a)
		if err != nil || pf.Masked() != pf {
			return armErr(400, "InvalidAddressPrefixFormat", "Address prefix %s of resource %s is not formatted correctly.", clipStr(a), nr.id)
		}
		space = append(space, pf)
	}
	seen := map[string]bool{}
	subnets, _ := nr.props["subnets"].([]any)
	for i, sn := range p.Subnets {
		if !resourceNameRE.MatchString(sn.Name) || seen[strings.ToLower(sn.Name)] {
			return badParam("properties.subnets", "Subnet name %q is invalid or given twice.", sn.Name)
		}
		seen[strings.ToLower(sn.Name)] = true
		pf, err := netip.ParsePrefix(sn.Properties.AddressPrefix)
		if err != nil || pf.Masked() != pf {
			return armErr(400, "InvalidAddressPrefixFormat", "Address prefix %s of subnet %s is not formatted correctly.", clipStr(sn.Properties.AddressPrefix), sn.Name)
		}
		inside := false
		for _, sp := range space {
			inside = inside || (sp.Bits() <= pf.Bits() && sp.Contains(pf.Addr()))
		}
		if !inside {
			return armErr(400, "NetcfgSubnetRangeOutsideVnet", "Subnet '%s' is not valid because its IP address range is outside the IP address range of virtual network '%s'.", sn.Name, nr.name)
		}
		if g := sn.Properties.NetworkSecurityGroup; g != nil {
			if s.lookup(g.ID, "Microsoft.Network/networkSecurityGroups") == nil {
				return missingRef(g.ID)
			}
			nr.refs = append(nr.refs, strings.ToLower(g.ID))
		}
		m, _ := subnets[i].(map[string]any)
		m["id"] = nr.id + "/subnets/" + sn.Name
		m["type"] = "Microsoft.Network/virtualNetworks/subnets"
		if pm, ok := m["properties"].(map[string]any); ok {
			pm["provisioningState"] = "Succeeded"
		}
	}
	if old != nil {
		// Dropping a subnet that NICs still use is refused.
		for _, o := range s.arm.resources {
			for _, ref := range o.refs {
				if name, ok := strings.CutPrefix(ref, strings.ToLower(old.id)+"/subnets/"); ok && !seen[name] {
					return armErr(409, "InUseSubnetCannotBeDeleted", "Subnet %s is in use by %s and cannot be deleted.", name, o.id)
				}
			}
		}
	}
	return nil
}

var serviceTags = map[string]bool{"*": true, "VirtualNetwork": true, "Internet": true, "AzureLoadBalancer": true}

func (s *Server) putNSG(nr *armResource) *apiError {
	var p struct {
		SecurityRules []struct {
			Name       string `json:"name"`
			Properties struct {
				Protocol                   string   `json:"protocol"`
				SourcePortRange            string   `json:"sourcePortRange"`
				SourcePortRanges           []string `json:"sourcePortRanges"`
				DestinationPortRange       string   `json:"destinationPortRange"`
				DestinationPortRanges      []string `json:"destinationPortRanges"`
				SourceAddressPrefix        string   `json:"sourceAddressPrefix"`
				SourceAddressPrefixes      []string `json:"sourceAddressPrefixes"`
				DestinationAddressPrefix   string   `json:"destinationAddressPrefix"`
				DestinationAddressPrefixes []string `json:"destinationAddressPrefixes"`
				Access                     string   `json:"access"`
				Priority                   *int     `json:"priority"`
				Direction                  string   `json:"direction"`
			} `json:"properties"`
		} `json:"securityRules"`
	}
	if err := decodeProps(nr.props, &p); err != nil {
		return err
	}
	names := map[string]bool{}
	prios := map[string]string{}
	rules, _ := nr.props["securityRules"].([]any)
	for i, r := range p.SecurityRules {
		q := r.Properties
		target := "properties.securityRules[" + strconv.Itoa(i) + "]"
		if !resourceNameRE.MatchString(r.Name) || names[strings.ToLower(r.Name)] {
			return badParam(target+".name", "Security rule name %q is invalid or given twice.", r.Name)
		}
		names[strings.ToLower(r.Name)] = true
		if !oneOf(q.Protocol, "Tcp", "Udp", "Icmp", "Esp", "Ah", "*") {
			return armErr(400, "SecurityRuleInvalidProtocol", "Security rule %s has invalid Protocol %q. Allowed: Tcp, Udp, Icmp, Esp, Ah, *.", r.Name, q.Protocol)
		}
		if !oneOf(q.Access, "Allow", "Deny") {
			return armErr(400, "SecurityRuleInvalidAccess", "Security rule %s has invalid Access %q. Allowed: Allow, Deny.", r.Name, q.Access)
		}
		if !oneOf(q.Direction, "Inbound", "Outbound") {
			return armErr(400, "SecurityRuleInvalidDirection", "Security rule %s has invalid Direction %q. Allowed: Inbound, Outbound.", r.Name, q.Direction)
		}
		if q.Priority == nil || *q.Priority < 100 || *q.Priority > 4096 {
			return armErr(400, "SecurityRuleInvalidPriority", "Security rule %s has invalid Priority. Value provided: %v. Allowed range 100-4096.", r.Name, derefInt(q.Priority))
		}
		pk := q.Direction + "/" + strconv.Itoa(*q.Priority)
		if other, dup := prios[pk]; dup {
			return armErr(400, "SecurityRuleConflict", "Security rule %s conflicts with rule %s. Rules cannot have the same Priority and Direction.", r.Name, other)
		}
		prios[pk] = r.Name
		for _, pr := range []struct {
			what  string
			one   string
			many  []string
			check func(string) bool
		}{
			{"SourcePortRange", q.SourcePortRange, q.SourcePortRanges, validPortRange},
			{"DestinationPortRange", q.DestinationPortRange, q.DestinationPortRanges, validPortRange},
			{"SourceAddressPrefix", q.SourceAddressPrefix, q.SourceAddressPrefixes, validAddressPrefix},
			{"DestinationAddressPrefix", q.DestinationAddressPrefix, q.DestinationAddressPrefixes, validAddressPrefix},
		} {
			if (pr.one == "") == (len(pr.many) == 0) {
				return armErr(400, "SecurityRuleParameterMissing", "Security rule %s must specify exactly one of %s and %ss.", r.Name, pr.what, pr.what)
			}
			for _, v := range append(pr.many, pr.one) {
				if v != "" && !pr.check(v) {
					return armErr(400, "SecurityRuleInvalid"+pr.what, "Security rule %s has invalid %s %q.", r.Name, pr.what, clipStr(v))
				}
			}
		}
		if m, ok := rules[i].(map[string]any); ok {
			m["id"] = nr.id + "/securityRules/" + r.Name
			m["type"] = "Microsoft.Network/networkSecurityGroups/securityRules"
			if pm, ok := m["properties"].(map[string]any); ok {
				pm["provisioningState"] = "Succeeded"
			}
		}
	}
	return nil
}

func derefInt(p *int) any {
	if p == nil {
		return "none"
	}
	return *p
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

func validPortRange(v string) bool {
	if v == "*" {
		return true
	}
	lo, hi, isRange := strings.Cut(v, "-")
	a, err1 := strconv.Atoi(lo)
	b, err2 := a, error(nil)
	if isRange {
		b, err2 = strconv.Atoi(hi)
	}
	return err1 == nil && err2 == nil && a >= 0 && b <= 65535 && a <= b
}

func validAddressPrefix(v string) bool {
	if serviceTags[v] {
		return true
	}
	if _, err := netip.ParseAddr(v); err == nil {
		return true
	}
	p, err := netip.ParsePrefix(v)
	return err == nil && p.Masked() == p
}

func (s *Server) putPIP(nr, old *armResource, body *armBody) *apiError {
	var p struct {
		PublicIPAllocationMethod string `json:"publicIPAllocationMethod"`
	}
	if err := decodeProps(nr.props, &p); err != nil {
		return err
	}
	sku := "Basic"
	if body.SKU != nil && body.SKU.Name != "" {
		sku = body.SKU.Name
	}
	if !oneOf(sku, "Basic", "Standard") {
		return badParam("sku.name", "Public IP address SKU %q is not supported (Basic, Standard).", sku)
	}
	if p.PublicIPAllocationMethod == "" {
		p.PublicIPAllocationMethod = "Dynamic"
	}
	if !oneOf(p.PublicIPAllocationMethod, "Static", "Dynamic") {
		return badParam("properties.publicIPAllocationMethod", "Allocation method %q is not Static or Dynamic.", p.PublicIPAllocationMethod)
	}
	if sku == "Standard" && p.PublicIPAllocationMethod != "Static" {
		return armErr(400, "StandardSkuPublicIPAddressesMustBeStatic", "Standard sku publicIp %s must have AllocationMethod set to Static.", nr.id)
	}
	ip := ""
	if old != nil {
		ip, _ = old.props["ipAddress"].(string)
	} else {
		s.arm.publicIPs++
		n := s.arm.publicIPs
		ip = fmt.Sprintf("20.%d.%d.%d", 50+n/65536%150, n/256%256, n%256)
	}
	nr.props["ipAddress"] = ip
	nr.props["publicIPAllocationMethod"] = p.PublicIPAllocationMethod
	nr.props["publicIPAddressVersion"] = "IPv4"
	return nil
}

var subnetIDRE = regexp.MustCompile(`(?i)^(/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/virtualNetworks/[^/]+)/subnets/([^/]+)$`)

func (s *Server) putNIC(nr, old *armResource) *apiError {
	var p struct {
		IPConfigurations []struct {
			Name       string `json:"name"`
			Properties struct {
				Subnet          *idRef `json:"subnet"`
				PublicIPAddress *idRef `json:"publicIPAddress"`
			} `json:"properties"`
		} `json:"ipConfigurations"`
		NetworkSecurityGroup *idRef `json:"networkSecurityGroup"`
	}
	if err := decodeProps(nr.props, &p); err != nil {
		return err
	}
	if len(p.IPConfigurations) == 0 {
		return badParam("properties.ipConfigurations", "A network interface needs at least one IP configuration.")
	}
	confs, _ := nr.props["ipConfigurations"].([]any)
	for i, c := range p.IPConfigurations {
		if !resourceNameRE.MatchString(c.Name) {
			return badParam("properties.ipConfigurations.name", "IP configuration name %q is invalid.", c.Name)
		}
		if c.Properties.Subnet == nil || c.Properties.Subnet.ID == "" {
			return badParam("properties.ipConfigurations.subnet", "IP configuration %s needs a subnet.", c.Name)
		}
		m := subnetIDRE.FindStringSubmatch(c.Properties.Subnet.ID)
		var vnet *armResource
		if m != nil {
			vnet = s.lookup(m[1], "Microsoft.Network/virtualNetworks")
		}
		if vnet == nil || !vnetHasSubnet(vnet, m[2]) {
			return missingRef(c.Properties.Subnet.ID)
		}
		if !strings.EqualFold(vnet.location, nr.location) {
			return armErr(400, "InvalidResourceReference", "Subnet %s is in location %s; network interface %s is in %s.", c.Properties.Subnet.ID, vnet.location, nr.name, nr.location)
		}
		nr.refs = append(nr.refs, strings.ToLower(c.Properties.Subnet.ID))
		if pip := c.Properties.PublicIPAddress; pip != nil {
			if s.lookup(pip.ID, "Microsoft.Network/publicIPAddresses") == nil {
				return missingRef(pip.ID)
			}
			for _, o := range s.arm.resources {
				if o.typ == nr.typ && !strings.EqualFold(o.id, nr.id) && containsRef(o.refs, strings.ToLower(pip.ID)) {
					return armErr(400, "PublicIPAddressInUse", "Resource %s is referencing public IP address %s that is already allocated to resource %s.", nr.id, pip.ID, o.id)
				}
			}
			nr.refs = append(nr.refs, strings.ToLower(pip.ID))
		}
		cm, _ := confs[i].(map[string]any)
		cm["id"] = nr.id + "/ipConfigurations/" + c.Name
		pm, _ := cm["properties"].(map[string]any)
		if i == 0 {
			if old != nil {
				nr.privateIP = old.privateIP
			} else {
				ip, err := s.allocIP()
				if err != nil {
					return armErr(400, "SubnetIsFull", "Subnet %s has no free address: %s.", m[2], err)
				}
				nr.privateIP = ip
			}
			pm["privateIPAddress"] = nr.privateIP
			pm["primary"] = true
		}
		if pm["privateIPAllocationMethod"] == nil {
			pm["privateIPAllocationMethod"] = "Dynamic"
		}
		pm["provisioningState"] = "Succeeded"
	}
	if g := p.NetworkSecurityGroup; g != nil {
		if s.lookup(g.ID, "Microsoft.Network/networkSecurityGroups") == nil {
			return missingRef(g.ID)
		}
		nr.refs = append(nr.refs, strings.ToLower(g.ID))
	}
	return nil
}

func vnetHasSubnet(vnet *armResource, name string) bool {
	subnets, _ := vnet.props["subnets"].([]any)
	for _, sn := range subnets {
		if m, _ := sn.(map[string]any); m != nil && strings.EqualFold(fmt.Sprint(m["name"]), name) {
			return true
		}
	}
	return false
}

var (
	vmSizeRE       = regexp.MustCompile(`^(Standard|Basic)_[A-Za-z0-9_]+$`)
	computerNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)
)

// Azure's limits on a Linux VM that the simulator checks.
const (
	maxCustomData = 65535 // bytes, decoded
	imageDiskGB   = 30    // the OS disk of the marketplace Linux images
	maxOSDiskGB   = 4095
)

type vmProps struct {
	HardwareProfile *struct{ VMSize string } `json:"hardwareProfile"`
	StorageProfile  *struct {
		ImageReference *struct{ Publisher, Offer, SKU, Version, ID string } `json:"imageReference"`
		OSDisk         *struct {
			CreateOption string `json:"createOption"`
			DiskSizeGB   *int   `json:"diskSizeGB"`
		} `json:"osDisk"`
	} `json:"storageProfile"`
	OSProfile *struct {
		ComputerName, AdminUsername, AdminPassword, CustomData string
		LinuxConfiguration                                     *struct {
			DisablePasswordAuthentication *bool `json:"disablePasswordAuthentication"`
			SSH                           *struct {
				PublicKeys []struct{ Path, KeyData string } `json:"publicKeys"`
			} `json:"ssh"`
		} `json:"linuxConfiguration"`
	} `json:"osProfile"`
	NetworkProfile *struct {
		NetworkInterfaces []struct {
			ID         string `json:"id"`
			Properties *struct {
				Primary *bool `json:"primary"`
			} `json:"properties"`
		} `json:"networkInterfaces"`
	} `json:"networkProfile"`
}

func (s *Server) putVM(nr, old *armResource, body *armBody, now time.Time) ([]func(), *apiError) {
	var p vmProps
	if err := decodeProps(nr.props, &p); err != nil {
		return nil, err
	}
	if p.HardwareProfile == nil || !vmSizeRE.MatchString(p.HardwareProfile.VMSize) {
		return nil, badParam("hardwareProfile.vmSize", "The value provided for the VM size is not valid (e.g. Standard_D2s_v5).")
	}
	sp := p.StorageProfile
	if sp == nil || sp.ImageReference == nil || (sp.ImageReference.ID == "" && (sp.ImageReference.Publisher == "" || sp.ImageReference.Offer == "" || sp.ImageReference.SKU == "" || sp.ImageReference.Version == "")) {
		return nil, badParam("imageReference", "Required parameter 'imageReference' (publisher, offer, sku and version, or id) is missing.")
	}
	if sp.OSDisk == nil || !strings.EqualFold(sp.OSDisk.CreateOption, "FromImage") {
		return nil, badParam("osDisk.createOption", "The osDisk's createOption must be FromImage for a VM made from an image.")
	}
	disk := imageDiskGB
	if d := sp.OSDisk.DiskSizeGB; d != nil {
		if *d < imageDiskGB {
			return nil, badParam("osDisk.diskSizeGB", "The specified disk size %d GB is smaller than the size of the corresponding disk in the VM image: %d GB. This is not allowed. Please choose equal or greater size or do not specify an explicit size.", *d, imageDiskGB)
		}
		if *d > maxOSDiskGB {
			return nil, badParam("osDisk.diskSizeGB", "The specified disk size %d GB exceeds the maximum of %d GB for an OS disk.", *d, maxOSDiskGB)
		}
		disk = *d
	}
	for _, z := range body.Zones {
		if !oneOf(z, "1", "2", "3") {
			return nil, badParam("zones", "The zone(s) '%s' for resource '%s' is not supported.", clipStr(z), nr.name)
		}
	}
	nr.zones = append([]string(nil), body.Zones...)
	np := p.NetworkProfile
	if np == nil || len(np.NetworkInterfaces) == 0 {
		return nil, badParam("networkProfile", "Required parameter 'networkProfile.networkInterfaces' is missing (null).")
	}
	primaryIP := ""
	for i, n := range np.NetworkInterfaces {
		nic := s.lookup(n.ID, "Microsoft.Network/networkInterfaces")
		if nic == nil {
			return nil, armErr(400, "NotFound", "Resource %s not found.", clipStr(n.ID))
		}
		if !strings.EqualFold(nic.location, nr.location) {
			return nil, armErr(400, "NicNotInSameLocation", "The network interface %s is in location %s; the virtual machine is in %s.", n.ID, nic.location, nr.location)
		}
		for _, o := range s.arm.resources {
			if o.inst != nil && !strings.EqualFold(o.id, nr.id) && containsRef(o.refs, strings.ToLower(nic.id)) {
				return nil, armErr(400, "NicInUse", "Network Interface %s is used by existing resource %s.", nic.id, o.id)
			}
		}
		nr.refs = append(nr.refs, strings.ToLower(nic.id))
		if i == 0 || (n.Properties != nil && n.Properties.Primary != nil && *n.Properties.Primary) {
			primaryIP = nic.privateIP
		}
	}
	if old != nil {
		// An update: osProfile is fixed at creation, as are the NICs of a
		// running VM.
		if op := p.OSProfile; op != nil && op.CustomData != old.customData {
			return nil, armErr(409, "PropertyChangeNotAllowed", "Changing property 'customData' is not allowed. Target: 'customData'.")
		}
		if strings.Join(nr.refs, ",") != strings.Join(old.refs, ",") {
			return nil, armErr(409, "OperationNotAllowed", "Changing the network interfaces of virtual machine %s requires it to be deallocated.", nr.name)
		}
		nr.inst, nr.customData = old.inst, old.customData
		nr.props["osProfile"] = old.props["osProfile"]
		nr.props["vmId"], nr.props["timeCreated"] = old.props["vmId"], old.props["timeCreated"]
		nr.inst.Tags = cloneTags(nr.tags)
		return nil, nil
	}
	op := p.OSProfile
	if op == nil {
		return nil, badParam("osProfile", "Required parameter 'osProfile' is missing (null).")
	}
	if !computerNameRE.MatchString(op.ComputerName) {
		return nil, badParam("osProfile.computerName", "Linux host name %q cannot exceed 64 characters in length or contain characters other than letters, digits and '-'.", clipStr(op.ComputerName))
	}
	if op.AdminUsername == "" || oneOf(strings.ToLower(op.AdminUsername), "admin", "administrator", "root", "user", "guest", "test") {
		return nil, badParam("adminUsername", "The admin user name %q is empty or not allowed.", clipStr(op.AdminUsername))
	}
	userData, err := base64.StdEncoding.DecodeString(op.CustomData)
	if err != nil {
		return nil, badParam("customData", "Custom data in OSProfile must be in Base64 encoding.")
	}
	if len(userData) > maxCustomData {
		return nil, badParam("customData", "Custom data in OSProfile is %d bytes decoded; at most %d are allowed.", len(userData), maxCustomData)
	}
	lc := op.LinuxConfiguration
	if lc != nil && lc.DisablePasswordAuthentication != nil && *lc.DisablePasswordAuthentication {
		if lc.SSH == nil || len(lc.SSH.PublicKeys) == 0 {
			return nil, badParam("linuxConfiguration.ssh.publicKeys", "Password authentication is disabled: at least one SSH public key is required.")
		}
		for _, k := range lc.SSH.PublicKeys {
			if k.Path != "/home/"+op.AdminUsername+"/.ssh/authorized_keys" {
				return nil, badParam("linuxConfiguration.ssh.publicKeys.path", "Destination path for SSH public keys is currently limited to its default value /home/%s/.ssh/authorized_keys.", op.AdminUsername)
			}
			if !strings.HasPrefix(k.KeyData, "ssh-rsa ") && !strings.HasPrefix(k.KeyData, "ssh-ed25519 ") {
				return nil, armErr(400, "InvalidParameter", "The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid (an OpenSSH ssh-rsa or ssh-ed25519 public key).")
			}
		}
	} else if len(op.AdminPassword) < 12 {
		return nil, badParam("adminPassword", "The supplied password must be between 12-123 characters long (or password authentication disabled with an SSH key).")
	}
	// Not returned on reads, as on Azure.
	if osm, ok := nr.props["osProfile"].(map[string]any); ok {
		delete(osm, "customData")
		delete(osm, "adminPassword")
	}
	vmID := newOpID()
	nr.props["vmId"] = vmID
	nr.props["timeCreated"] = now.UTC().Format(time.RFC3339Nano)
	nr.customData = op.CustomData
	ir := sp.ImageReference
	zone := ""
	if len(body.Zones) > 0 {
		zone = body.Zones[0]
	}
	in := &Instance{
		ID: "vm-" + strings.ReplaceAll(vmID, "-", "")[:17], Cloud: "azure", Region: nr.location, Zone: zone,
		ImageID: ir.Publisher + ":" + ir.Offer + ":" + ir.SKU + ":" + ir.Version, InstanceType: p.HardwareProfile.VMSize,
		PrivateIP: primaryIP, Tags: cloneTags(nr.tags), UserData: userData, DiskGB: disk, LaunchTime: now, State: "pending",
	}
	if ir.ID != "" {
		in.ImageID = ir.ID
	}
	in.willFail = s.nth("faillaunch", s.faults.FailLaunch)
	s.instances[in.ID] = in
	nr.inst = in
	id := in.ID
	return []func(){func() { time.AfterFunc(s.cfg.PendingFor, func() { s.boot(id) }) }}, nil
}

// vmInstanceView is the instance view ARM returns with $expand=instanceView.
func vmInstanceView(state string, in *Instance) map[string]any {
	st := []any{map[string]any{"code": "ProvisioningState/" + strings.ToLower(state), "level": "Info", "displayStatus": "Provisioning " + strings.ToLower(state)}}
	power := map[string]string{"pending": "starting", "running": "running", "stopping": "stopping", "stopped": "stopped", "shutting-down": "stopping", "terminated": "stopped"}[in.State]
	if state == "Failed" {
		st[0] = map[string]any{"code": "ProvisioningState/failed/AllocationFailed", "level": "Error", "displayStatus": "Provisioning failed", "message": "Allocation failed."}
		power = ""
	}
	if power != "" {
		st = append(st, map[string]any{"code": "PowerState/" + power, "level": "Info", "displayStatus": "VM " + power})
	}
	return map[string]any{"computerName": in.ID, "statuses": st}
}
