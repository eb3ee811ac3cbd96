package main

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/stacks/cluster"
	"github.com/aerolithdb/aerolith/stacks/cluster/azure"
)

// recorder is the mock engine: it records every resource with its inputs.
type recorder struct {
	mu  sync.Mutex
	res []pulumi.MockResourceArgs
}

func (r *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res = append(r.res, args)
	return args.Name + "-id", args.Inputs.Copy(), nil
}

func (r *recorder) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

func (r *recorder) of(typ string) map[string]pulumi.MockResourceArgs {
	out := map[string]pulumi.MockResourceArgs{}
	for _, a := range r.res {
		if a.TypeToken == typ {
			out[a.Name] = a
		}
	}
	return out
}

const adminKey = "admin-key-0123456789abcdef"

var cfg = map[string]string{
	"azure-native:location": "westeurope",
	"aerolith:clusterName":  "orders",
	"aerolith:nodes":        "3",
	"aerolith:instanceType": "Standard_D2s_v5",
	"aerolith:diskGb":       "50",
	"aerolith:agentUrl":     "https://downloads.example.com/aerolith",
	"aerolith:agentSha256":  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	"aerolith:allowedCidrs": `["203.0.113.0/24","198.51.100.7/32"]`,
	"aerolith:adminKey":     adminKey,
	"aerolith:sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample ops@example",
	"aerolith:insecureHttp": "true",
}

func strs(v resource.PropertyValue) []string {
	var out []string
	if v.IsArray() {
		for _, e := range v.ArrayValue() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

func TestAzureProgram(t *testing.T) {
	b, _ := json.Marshal(cfg)
	t.Setenv(pulumi.EnvConfig, string(b))
	t.Setenv(pulumi.EnvConfigSecretKeys, `["aerolith:adminKey"]`)
	r := &recorder{}
	if err := pulumi.RunErr(program, pulumi.WithMocks("aerolith-azure", "dev", r)); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, a := range r.res {
		counts[a.TypeToken]++
	}
	want := map[string]int{
		cluster.Type:                                1,
		"azure-native:resources:ResourceGroup":      1,
		"azure-native:network:NetworkSecurityGroup": 1,
		"azure-native:network:VirtualNetwork":       1,
		"azure-native:network:Subnet":               1,
		"azure-native:network:PublicIPAddress":      3,
		"azure-native:network:NetworkInterface":     3,
		"azure-native:compute:VirtualMachine":       3,
	}
	for typ, n := range want {
		if counts[typ] != n {
			t.Errorf("%d of %s, want %d (all: %v)", counts[typ], typ, n, counts)
		}
	}
	if len(r.res) != 14 {
		t.Errorf("%d resources, want 14: %v", len(r.res), counts)
	}

	// Raft only from the nodes' subnet; the API only from the CIDRs.
	subnet := azure.Builder{}.Subnet()
	for _, nsg := range r.of("azure-native:network:NetworkSecurityGroup") {
		rules := nsg.Inputs["securityRules"].ArrayValue()
		if len(rules) != 2 {
			t.Fatalf("%d security rules, want 2", len(rules))
		}
		for _, rv := range rules {
			rule := rv.ObjectValue()
			switch rule["name"].StringValue() {
			case "raft":
				if rule["sourceAddressPrefix"].StringValue() != subnet || rule["destinationAddressPrefix"].StringValue() != subnet ||
					!slices.Equal(strs(rule["destinationPortRanges"]), []string{"7070", "7071"}) {
					t.Errorf("raft rule: %v", rule)
				}
			case "api":
				got := strs(rule["sourceAddressPrefixes"])
				slices.Sort(got)
				if !slices.Equal(got, []string{"198.51.100.7/32", "203.0.113.0/24"}) || rule["destinationPortRange"].StringValue() != "7070" {
					t.Errorf("api rule: %v", rule)
				}
			default:
				t.Errorf("unexpected rule %v", rule)
			}
		}
	}

	spec := provisioner.ClusterSpec{
		Name: "orders", Cloud: provisioner.Azure, Region: "westeurope", Nodes: 3, InstanceType: "Standard_D2s_v5", DiskGB: 50,
		Agent:        provisioner.Artifact{URL: cfg["aerolith:agentUrl"], SHA256: cfg["aerolith:agentSha256"]},
		AllowedCIDRs: []string{"203.0.113.0/24", "198.51.100.7/32"},
	}
	boot := provisioner.Boot{AdminKey: adminKey, InsecureHTTP: true, Discover: azure.Builder{}.Discover(&spec)}
	vms := r.of("azure-native:compute:VirtualMachine")
	for i := 1; i <= 3; i++ {
		id := provisioner.NodeID("orders", i)
		vm, ok := vms[id]
		if !ok {
			t.Errorf("no VM %s", id)
			continue
		}
		cd := vm.Inputs["osProfile"].ObjectValue()["customData"]
		if !cd.IsSecret() {
			t.Errorf("%s: custom data is not a secret", id)
			continue
		}
		got, err := base64.StdEncoding.DecodeString(cd.SecretValue().Element.StringValue())
		if err != nil {
			t.Fatal(err)
		}
		wantUD, err := provisioner.UserData(boot)(&spec, id, true)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(wantUD) {
			t.Errorf("%s: custom data differs from the provisioner's:\n got %s\nwant %s", id, got, wantUD)
		}
		tags := vm.Inputs["tags"].ObjectValue()
		for k, v := range map[string]string{provisioner.TagCluster: "orders", provisioner.TagNode: id} {
			if tv, ok := tags[resource.PropertyKey(k)]; !ok || tv.StringValue() != v {
				t.Errorf("%s: tag %s = %v, want %s", id, k, tv, v)
			}
		}
	}
}

// TestAzureProgramGivenGroup: with aerolith:resourceGroup the cluster's
// resources go into that existing group, and the stack makes no group of
// its own (so destroying it never deletes the owner's group).
func TestAzureProgramGivenGroup(t *testing.T) {
	c := maps.Clone(cfg)
	c["aerolith:resourceGroup"] = "msp-orders"
	b, _ := json.Marshal(c)
	t.Setenv(pulumi.EnvConfig, string(b))
	t.Setenv(pulumi.EnvConfigSecretKeys, `["aerolith:adminKey"]`)
	r := &recorder{}
	if err := pulumi.RunErr(program, pulumi.WithMocks("aerolith-azure", "dev", r)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range r.res {
		switch {
		case a.TypeToken == "azure-native:resources:ResourceGroup":
			t.Errorf("resource group %s made: want the given one used", a.Name)
		case strings.HasPrefix(a.TypeToken, "azure-native:"):
			n++
			if g := a.Inputs["resourceGroupName"]; !g.IsString() || g.StringValue() != "msp-orders" {
				t.Errorf("%s %s in resource group %v, want msp-orders", a.TypeToken, a.Name, g)
			}
		}
	}
	if n != 12 { // the NSG, the network, the subnet, 3 x (public IP, NIC, VM)
		t.Errorf("%d azure resources, want 12", n)
	}
	spec := provisioner.ClusterSpec{Name: "orders", Cloud: provisioner.Azure}
	if d := (azure.Builder{ResourceGroup: "msp-orders"}).Discover(&spec); !strings.Contains(d, "resource_group=msp-orders ") {
		t.Errorf("discovery %q: want the given group", d)
	}
}
