package azure_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/azure"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim"
	"github.com/aerolithdb/aerolith/provisioner/provisionertest"
)

const subscription = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"

func spec(nodes int) *provisioner.ClusterSpec {
	return &provisioner.ClusterSpec{
		Name: "shop", Cloud: provisioner.Azure, Region: "westeurope", Nodes: nodes, InstanceType: "Standard_D2s_v5", DiskGB: 20,
		Agent:        provisioner.Artifact{URL: "https://downloads.example.com/aerolith", SHA256: strings.Repeat("ab", 32)},
		AllowedCIDRs: []string{"203.0.113.0/24", "198.51.100.0/24"},
		Tags:         map[string]string{"team": "shop"},
	}
}

// identityEnv points azidentity's managed identity (App Service shape) at
// the simulator's token endpoint: the driver's default credential chain
// then gets real bearer tokens from it.
func identityEnv(t *testing.T, url string) {
	t.Helper()
	t.Setenv("IDENTITY_ENDPOINT", url+cloudsim.MSITokenPath)
	t.Setenv("IDENTITY_HEADER", "sim-identity-header")
	for _, k := range []string{"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "MSI_ENDPOINT"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
}

func newDriver(t *testing.T, url string) *azure.Driver {
	t.Helper()
	identityEnv(t, url)
	d, err := azure.New(azure.Config{
		SubscriptionID: subscription, Location: "westeurope", Endpoint: url,
		PollFrequency: 10 * time.Millisecond, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newEnv(t *testing.T, faults cloudsim.Faults) (*cloudsim.Server, *provisioner.Provisioner, *provisionertest.Members, string) {
	t.Helper()
	return provisionertest.NewEnv(t, func(t *testing.T, url string) provisioner.Driver { return newDriver(t, url) }, 20*time.Millisecond, faults)
}

// liveNodes are the nodes of the VMs that exist and did not fail.
func liveNodes(sim *cloudsim.Server) []string {
	return provisionertest.LiveNodes(sim, provisioner.Azure)
}

func resources(sim *cloudsim.Server) []string {
	var out []string
	for _, r := range sim.ARMResources() {
		out = append(out, r.Type+"/"+r.Name)
	}
	return out
}

func TestApplyScaleDestroy(t *testing.T) {
	ctx := context.Background()
	sim, p, members, url := newEnv(t, cloudsim.Faults{})
	s := spec(3)
	plan, err := p.Plan(ctx, s)
	if err != nil || len(plan.Actions) != 4 {
		t.Fatalf("Plan of a new cluster = %+v, %v; want the network and 3 launches", plan, err)
	}
	st, err := p.Apply(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 3 || len(st.Drift) != 0 {
		t.Fatalf("Apply: %+v", st)
	}
	for _, n := range st.Nodes {
		if n.State != provisioner.Running || n.PrivateIP == "" || n.PublicIP == "" {
			t.Fatalf("node %+v: want running with private and public addresses", n)
		}
	}
	if got := liveNodes(sim); !slices.Equal(got, []string{"shop-n1", "shop-n2", "shop-n3"}) {
		t.Fatalf("live nodes %v", got)
	}
	for _, in := range sim.Instances() {
		if !strings.Contains(string(in.UserData), "initial=true") || in.Tags["team"] != "shop" || in.Tags[provisioner.TagCluster] != "shop" || in.DiskGB != azure.MinOSDiskGB {
			t.Fatalf("VM %s: tags %v, disk %d, custom data %q", in.ID, in.Tags, in.DiskGB, in.UserData)
		}
	}
	// The security group, as ARM reports it through the SDK.
	nsg := readNSG(t, url)
	rules := map[string]*armnetwork.SecurityRulePropertiesFormat{}
	for _, r := range nsg.Properties.SecurityRules {
		rules[*r.Name] = r.Properties
	}
	raft := rules["raft-within-cluster"]
	if raft == nil || *raft.DestinationPortRange != "7071" || *raft.SourceAddressPrefix != azure.SubnetCIDR || *raft.Priority != 100 {
		t.Fatalf("raft rule %+v: want port 7071 from the cluster's subnet only", raft)
	}
	api := rules["api-from-allowed-cidrs"]
	if api == nil || len(api.SourceAddressPrefixes) != 2 || *api.DestinationPortRange != "7070" {
		t.Fatalf("api rule %+v", api)
	}
	for _, r := range rules {
		if *r.Access == armnetwork.SecurityRuleAccessAllow && r.SourceAddressPrefix != nil && *r.SourceAddressPrefix == "*" {
			t.Fatalf("a rule admits everyone: %+v", r)
		}
	}

	// Apply again: nothing to do, no VM made.
	before := len(sim.Instances())
	if plan, _ := p.Plan(ctx, s); !plan.Empty() {
		t.Fatalf("Plan after apply = %+v, want empty", plan.Actions)
	}
	if _, err := p.Apply(ctx, s); err != nil || len(sim.Instances()) != before {
		t.Fatalf("second Apply: %v, %d VMs (was %d)", err, len(sim.Instances()), before)
	}

	// Scale to 5 and back to 3.
	if _, err := p.Apply(ctx, spec(5)); err != nil {
		t.Fatal(err)
	}
	for _, in := range sim.Instances() {
		if n := in.Tags[provisioner.TagNode]; (n == "shop-n4" || n == "shop-n5") && !strings.Contains(string(in.UserData), "initial=false") {
			t.Fatalf("%s launched as an initial node", n)
		}
	}
	if _, err := p.Apply(ctx, spec(3)); err != nil {
		t.Fatal(err)
	}
	if got := liveNodes(sim); !slices.Equal(got, []string{"shop-n1", "shop-n2", "shop-n3"}) {
		t.Fatalf("after scale down: %v", got)
	}
	if !slices.Equal(members.Removed(), []string{"shop-n5", "shop-n4"}) {
		t.Fatalf("raft removals %v, want shop-n5 then shop-n4", members.Removed())
	}
	for _, r := range resources(sim) {
		if strings.Contains(r, "shop-n4") || strings.Contains(r, "shop-n5") {
			t.Fatalf("%s left behind by the scale down", r)
		}
	}

	// A VM deleted outside the provisioner is drift, repaired by the next
	// apply under a new launch token.
	st, _ = p.Read(ctx, s)
	if err := newDriver(t, url).Terminate(ctx, s, st.Nodes[1]); err != nil {
		t.Fatal(err)
	}
	st, err = p.Read(ctx, s)
	if err != nil || len(st.Drift) != 1 || !strings.Contains(st.Drift[0], "shop-n2") {
		t.Fatalf("Read after an outside deletion: %+v, %v", st, err)
	}
	if _, err := p.Apply(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := liveNodes(sim); !slices.Equal(got, []string{"shop-n1", "shop-n2", "shop-n3"}) {
		t.Fatalf("after repair: %v", got)
	}

	if err := p.Destroy(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := p.Destroy(ctx, s); err != nil {
		t.Fatalf("second Destroy: %v", err)
	}
	if got := liveNodes(sim); len(got) != 0 || len(resources(sim)) != 0 {
		t.Fatalf("after destroy: live %v, resources %v", got, resources(sim))
	}
	if _, err := p.Read(ctx, s); err != provisioner.ErrNotFound {
		t.Fatalf("Read after destroy = %v, want ErrNotFound", err)
	}
	checkRequests(t, sim)
}

// checkRequests: every ARM request carried a bearer token the simulator
// issued, and a VM's NIC and public IP were deleted only after the VM.
func checkRequests(t *testing.T, sim *cloudsim.Server) {
	t.Helper()
	deleted := map[string]int{}
	for i, r := range sim.Requests() {
		if r.Cloud != "azure" {
			continue
		}
		if !r.AuthOK || (r.Action != "ManagedIdentity/token" && r.Auth != "Bearer") {
			t.Fatalf("request %s %s: auth %q ok=%v", r.Method, r.Path, r.Auth, r.AuthOK)
		}
		if r.Method == "DELETE" && r.Status < 300 {
			deleted[strings.ToLower(r.Path[strings.LastIndex(r.Path, "/")+1:])] = i
		}
	}
	checked := 0
	for name, i := range deleted {
		if vm, ok := strings.CutSuffix(name, "-nic"); ok {
			if j, ok := deleted[vm]; !ok || j > i {
				t.Fatalf("NIC %s deleted before its VM", name)
			}
			if j, ok := deleted[vm+"-pip"]; !ok || j < i {
				t.Fatalf("public IP of %s deleted before its NIC", vm)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no NIC deletion recorded")
	}
}

func readNSG(t *testing.T, url string) armnetwork.SecurityGroup {
	t.Helper()
	identityEnv(t, url)
	c, err := armnetwork.NewSecurityGroupsClient(subscription, credential(t), clientOptions(url))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(context.Background(), "aerolith-shop", "aerolith-shop-nsg", nil)
	if err != nil {
		t.Fatal(err)
	}
	return got.SecurityGroup
}

// TestNICInUseRefused: ARM (the simulator) refuses to delete a NIC its VM
// still uses, with 409 NicInUse; the driver's Terminate deletes the VM
// first and succeeds.
func TestNICInUseRefused(t *testing.T) {
	ctx := context.Background()
	_, p, _, url := newEnv(t, cloudsim.Faults{})
	st, err := p.Apply(ctx, spec(1))
	if err != nil {
		t.Fatal(err)
	}
	identityEnv(t, url)
	nics, err := armnetwork.NewInterfacesClient(subscription, credential(t), clientOptions(url))
	if err != nil {
		t.Fatal(err)
	}
	vm := st.Nodes[0].ID[strings.LastIndex(st.Nodes[0].ID, "/")+1:]
	_, err = nics.BeginDelete(ctx, "aerolith-shop", vm+"-nic", nil)
	var re *azcore.ResponseError
	if !errorsAs(err, &re) || re.StatusCode != 409 || re.ErrorCode != "NicInUse" {
		t.Fatalf("deleting an attached NIC = %v, want 409 NicInUse", err)
	}
	if err := p.Destroy(ctx, spec(1)); err != nil {
		t.Fatal(err)
	}
}

func TestApplyConvergesUnderFaults(t *testing.T) {
	faults := map[string]cloudsim.Faults{
		"eventual consistency": {EventualConsistency: 2},
		"throttling":           {Throttle: 15},
		"commit then 500":      {CommitThen500: 2},
		"one-item pages":       {PageSize: 1},
		"failed launches":      {FailLaunch: 2},
		"all at once":          {EventualConsistency: 2, Throttle: 20, CommitThen500: 3, PageSize: 1, FailLaunch: 3},
	}
	for name, f := range faults {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			sim, p, _, _ := newEnv(t, f)
			if _, err := p.Apply(ctx, spec(3)); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got := liveNodes(sim); !slices.Equal(got, []string{"shop-n1", "shop-n2", "shop-n3"}) {
				t.Fatalf("live VMs %v: a duplicate or a missing node", got)
			}
			if f.FailLaunch > 0 && len(sim.Instances()) == 3 {
				t.Fatal("no launch failed: the fault was not exercised")
			}
			if err := p.Destroy(ctx, spec(3)); err != nil {
				t.Fatal(err)
			}
			sim.SetFaults(cloudsim.Faults{})
			if got := liveNodes(sim); len(got) != 0 || len(resources(sim)) != 0 {
				t.Fatalf("after destroy: live %v, resources %v", got, resources(sim))
			}
		})
	}
}

// TestKilledApplyRerunConverges SIGKILLs a provisioner process in the
// middle of Apply (after its k-th VM PUT reached ARM), then applies again:
// exactly one VM per node, for every k, and a destroy leaves nothing.
func TestKilledApplyRerunConverges(t *testing.T) {
	provisionertest.KilledApplyRerunConverges(t, provisionertest.KilledApply{
		Spec: spec(3), PendingFor: 20 * time.Millisecond,
		Driver: func(t *testing.T, url string) provisioner.Driver { return newDriver(t, url) },
		Launch: "VM PUT",
		IsLaunch: func(r cloudsim.Request) bool {
			return r.Method == "PUT" && r.Action == "Microsoft.Compute/virtualMachines/write"
		},
		After: func(t *testing.T, sim *cloudsim.Server, p *provisioner.Provisioner) {
			if err := p.Destroy(context.Background(), spec(3)); err != nil {
				t.Fatal(err)
			}
			if r := resources(sim); len(r) != 0 {
				t.Fatalf("after destroy: %v", r)
			}
		},
	})
}
