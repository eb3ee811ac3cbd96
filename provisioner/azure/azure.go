// Package azure is the provisioner's driver for Microsoft Azure, on the
// official Azure SDK for Go (azcore, armresources, armnetwork/v7,
// armcompute/v7): a resource group per cluster (or one given), a virtual
// network with one subnet, a network security group on that subnet (raft
// and agent traffic only from within the subnet, the data API only from
// the allowed CIDRs, everything else denied), and per node a public IP, a
// NIC and a VM booted from customData (the provisioner's cloud-init).
//
// Every create is a PUT by a deterministic name (ARM's create-or-update),
// so a retry or a rerun after a crash finds what it made instead of
// duplicating it: a VM's name carries its launch token. Long-running
// operations go through the SDK's pollers (BeginCreateOrUpdate /
// BeginDelete, then PollUntilDone). Deletion follows the dependencies:
// VM, then its NIC, then its public IP; the network last.
//
// Credentials come from azidentity's DefaultAzureCredential (environment
// AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET, workload or
// managed identity, the Azure CLI); Endpoint points ARM elsewhere through
// a custom cloud.Configuration (the cloud simulator in tests).
package azure

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/v3"

	"github.com/aerolithdb/aerolith/provisioner"
)

// Ports the network security group opens.
const (
	APIPort  = 7070
	RaftPort = 7071
)

// The cluster network's address space and its one subnet.
const (
	VNetCIDR   = "10.64.0.0/16"
	SubnetCIDR = "10.64.0.0/24"
	SubnetName = "nodes"
)

// DefaultImage is the image (publisher:offer:sku:version) of a spec that
// names none.
const DefaultImage = "Canonical:ubuntu-24_04-lts:server:latest"

// MinOSDiskGB is the OS disk size of Azure's Linux marketplace images: a
// smaller disk_gb is raised to it (Azure refuses a disk smaller than its image).
const MinOSDiskGB = 30

// AdminUser is the VM's administrator (SSH key only; the nodes are run
// through their API, the key is for break-glass access).
const AdminUser = "aerolith"

// EnvSubscription is the standard variable a subscription id is read from.
const EnvSubscription = "AZURE_SUBSCRIPTION_ID"

// Config configures a Driver.
type Config struct {
	// SubscriptionID, else AZURE_SUBSCRIPTION_ID.
	SubscriptionID string
	// Location is the Azure region (a spec's region must match it).
	Location string
	// ResourceGroup, optional, is an existing group to put the cluster in;
	// empty makes (and on destroy deletes) a group per cluster,
	// "aerolith-<cluster>".
	ResourceGroup string
	// Endpoint, optional, overrides the ARM endpoint (and the token
	// audience): the cloud simulator.
	Endpoint string
	// Credential, optional, replaces DefaultAzureCredential.
	Credential azcore.TokenCredential
	// Transport, optional, replaces the HTTP client (the SDK's fake servers).
	Transport policy.Transporter
	// PollFrequency between polls of a long-running operation; default 2s
	// (the SDK allows no less than 1s outside tests).
	PollFrequency time.Duration
	// MaxRetries, RetryDelay and MaxRetryDelay tune the SDK's retry
	// policy (throttling, 5xx): default 10, 800ms, 60s.
	MaxRetries    int32
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	// SSHPublicKey, optional, is the admin's OpenSSH public key; default a
	// fresh ed25519 key whose private half is discarded.
	SSHPublicKey string
}

// Driver implements provisioner.Driver on Azure.
type Driver struct {
	cfg  Config
	sub  string
	rgs  *armresources.ResourceGroupsClient
	nets *armnetwork.VirtualNetworksClient
	nsgs *armnetwork.SecurityGroupsClient
	pips *armnetwork.PublicIPAddressesClient
	nics *armnetwork.InterfacesClient
	vms  *armcompute.VirtualMachinesClient
}

var _ provisioner.Driver = (*Driver)(nil)

// CloudConfig is the cloud.Configuration of endpoint: Azure's public cloud
// with ARM (endpoint and token audience) replaced.
func CloudConfig(endpoint string) cloud.Configuration {
	c := cloud.AzurePublic
	if endpoint == "" {
		return c
	}
	ep := strings.TrimSuffix(endpoint, "/")
	c.Services = map[cloud.ServiceName]cloud.ServiceConfiguration{cloud.ResourceManager: {Endpoint: ep, Audience: ep}}
	return c
}

// New builds the clients; it does no network I/O.
func New(cfg Config) (*Driver, error) {
	if cfg.SubscriptionID == "" {
		cfg.SubscriptionID = os.Getenv(EnvSubscription)
	}
	if cfg.SubscriptionID == "" {
		return nil, fmt.Errorf("azure: a subscription id is required (--subscription or %s)", EnvSubscription)
	}
	if cfg.Location == "" {
		return nil, errors.New("azure: a location is required (--region, e.g. westeurope)")
	}
	if cfg.ResourceGroup != "" {
		if err := ValidateResourceGroup(cfg.ResourceGroup); err != nil {
			return nil, fmt.Errorf("azure: %w", err)
		}
	}
	if cfg.PollFrequency == 0 {
		cfg.PollFrequency = 2 * time.Second
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 10
	}
	if cfg.MaxRetryDelay == 0 {
		cfg.MaxRetryDelay = time.Minute
	}
	insecure := false
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("azure: endpoint %q is not an http(s) URL", cfg.Endpoint)
		}
		// Bearer tokens over plain HTTP only to a simulator on this machine.
		insecure = u.Scheme == "http"
		if insecure && u.Hostname() != "localhost" && !strings.HasPrefix(u.Hostname(), "127.") && u.Hostname() != "::1" {
			return nil, fmt.Errorf("azure: endpoint %q: plain http only to a loopback simulator; use https", cfg.Endpoint)
		}
	}
	cloudCfg := CloudConfig(cfg.Endpoint)
	cred := cfg.Credential
	if cred == nil {
		c, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: azcore.ClientOptions{Cloud: cloudCfg}})
		if err != nil {
			return nil, fmt.Errorf("azure: credentials: %w", err)
		}
		cred = c
	}
	if cfg.SSHPublicKey == "" {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		cfg.SSHPublicKey = sshED25519(pub)
	}
	opts := &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloudCfg, Transport: cfg.Transport, InsecureAllowCredentialWithHTTP: insecure,
		Retry: policy.RetryOptions{MaxRetries: cfg.MaxRetries, RetryDelay: cfg.RetryDelay, MaxRetryDelay: cfg.MaxRetryDelay},
	}}
	res, err := armresources.NewClientFactory(cfg.SubscriptionID, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("azure: %w", err)
	}
	net, err := armnetwork.NewClientFactory(cfg.SubscriptionID, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("azure: %w", err)
	}
	comp, err := armcompute.NewClientFactory(cfg.SubscriptionID, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("azure: %w", err)
	}
	return &Driver{cfg: cfg, sub: cfg.SubscriptionID, rgs: res.NewResourceGroupsClient(),
		nets: net.NewVirtualNetworksClient(), nsgs: net.NewSecurityGroupsClient(), pips: net.NewPublicIPAddressesClient(),
		nics: net.NewInterfacesClient(), vms: comp.NewVirtualMachinesClient()}, nil
}

// ValidateResourceGroup checks name against Azure's rules for resource
// group names: 1-90 characters, each a letter or digit (Unicode ones
// included, as ARM's .NET \w admits), '_', '-', '.', '(' or ')', the
// last not a '.'.
func ValidateResourceGroup(name string) error {
	const rules = "1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'"
	if !utf8.ValidString(name) {
		return fmt.Errorf("resource group %q is not valid UTF-8; want %s", name, rules)
	}
	if n := utf8.RuneCountInString(name); n == 0 || n > 90 {
		return fmt.Errorf("resource group %q has %d characters; want %s", name, n, rules)
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("_-.()", r) {
			return fmt.Errorf("resource group %q: %q is not allowed; want %s", name, r, rules)
		}
	}
	if strings.HasSuffix(name, ".") {
		return fmt.Errorf("resource group %q ends in '.'; want %s", name, rules)
	}
	return nil
}

// sshED25519 renders pub as an OpenSSH authorized_keys line.
func sshED25519(pub ed25519.PublicKey) string {
	str := func(b []byte) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...) }
	blob := append(str([]byte("ssh-ed25519")), str(pub)...)
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob) + " aerolith"
}

// Cloud implements provisioner.Driver.
func (d *Driver) Cloud() provisioner.Cloud { return provisioner.Azure }

func (d *Driver) checkLocation(spec *provisioner.ClusterSpec) error {
	if spec.Region != d.cfg.Location {
		return fmt.Errorf("azure: spec region %q differs from the driver's location %q", spec.Region, d.cfg.Location)
	}
	return nil
}

// Names of a cluster's resources. A VM's name carries its launch token, so
// a relaunch (a new generation) is a new VM and a retry the same one.
func (d *Driver) group(spec *provisioner.ClusterSpec) string {
	if d.cfg.ResourceGroup != "" {
		return d.cfg.ResourceGroup
	}
	return "aerolith-" + spec.Name
}

func vnetName(cluster string) string { return "aerolith-" + cluster + "-vnet" }
func nsgName(cluster string) string  { return "aerolith-" + cluster + "-nsg" }

// VMName is the VM of node's launch with token.
func VMName(node, token string) string {
	return node + "-" + strings.ReplaceAll(token, "-", "")[:8]
}
func nicName(vm string) string { return vm + "-nic" }
func pipName(vm string) string { return vm + "-pip" }

func (d *Driver) id(rg, typ, name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/%s/%s", d.sub, rg, typ, name)
}

func tagsOf(m map[string]string) map[string]*string {
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = ptr(v)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// status is the HTTP status of an ARM error, 0 for other errors.
func status(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// code is the ARM error code of err, "" for other errors.
func code(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// wait polls a long-running operation to its end. A 404 from the final
// read means the resource was accepted but ARM's reads do not see it yet
// (eventual consistency): the operation succeeded.
func wait[T any](ctx context.Context, d *Driver, p *runtime.Poller[T], err error) error {
	if err != nil {
		return err
	}
	_, err = p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: d.cfg.PollFrequency})
	if status(err) == http.StatusNotFound && code(err) != "ResourceGroupNotFound" {
		return nil
	}
	return err
}

// gone is a delete's error with "already deleted" forgiven.
func gone(err error) error {
	if status(err) == http.StatusNotFound {
		return nil
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
