package azure_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/azure"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim/cloudsimtest"
	"github.com/aerolithdb/aerolith/provisioner/provisionertest"
)

// TestGivenResourceGroup: two clusters in one existing group (an MSP's,
// under its policies and RBAC): every resource of each lands in it, no
// group of the cluster's own is made, destroying one leaves the other's
// resources, and destroying both leaves the group itself.
func TestGivenResourceGroup(t *testing.T) {
	ctx := context.Background()
	const group = "msp-Customer.Shop(prod)"
	var url string
	sim, p, members, _ := provisionertest.NewEnv(t, func(t *testing.T, u string) provisioner.Driver {
		url = u
		return groupDriver(t, u, group)
	}, 20*time.Millisecond, cloudsim.Faults{})
	cloudsimtest.AzureResourceGroup(t, url, group, "westeurope")
	other := spec(1)
	other.Name = "billing"
	pOther, err := provisioner.New(provisioner.Config{Driver: groupDriver(t, url, group), UserData: provisionertest.UserData, Members: members, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p *provisioner.Provisioner
		s *provisioner.ClusterSpec
	}{{p, spec(1)}, {pOther, other}} {
		if _, err := c.p.Apply(ctx, c.s); err != nil {
			t.Fatalf("apply %s: %v", c.s.Name, err)
		}
	}
	inGroup := "/resourcegroups/" + strings.ToLower(group) + "/"
	for _, r := range sim.ARMResources() {
		if r.Type == "Microsoft.Resources/resourceGroups" {
			if r.Name != group {
				t.Errorf("group %s made: want only the given %s", r.Name, group)
			}
			continue
		}
		if !strings.Contains(strings.ToLower(r.ID), inGroup) {
			t.Errorf("%s outside the given group", r.ID)
		}
	}
	if err := p.Destroy(ctx, spec(1)); err != nil {
		t.Fatal(err)
	}
	if st, err := pOther.Read(ctx, other); err != nil || len(st.Nodes) != 1 {
		t.Fatalf("the other cluster after destroying shop: %+v, %v", st, err)
	}
	for _, r := range resources(sim) {
		if strings.Contains(r, "shop") {
			t.Errorf("%s left after destroy", r)
		}
	}
	if err := pOther.Destroy(ctx, other); err != nil {
		t.Fatal(err)
	}
	if got := resources(sim); len(got) != 1 || got[0] != "Microsoft.Resources/resourceGroups/"+group {
		t.Fatalf("after destroying both: %v, want only the given group", got)
	}
}

// TestGivenResourceGroupMissing: a given group that does not exist is an
// error naming it, and nothing is made (not even the group).
func TestGivenResourceGroupMissing(t *testing.T) {
	sim, p, _, _ := provisionertest.NewEnv(t, func(t *testing.T, u string) provisioner.Driver { return groupDriver(t, u, "msp-missing") },
		20*time.Millisecond, cloudsim.Faults{})
	_, err := p.Apply(context.Background(), spec(1))
	if err == nil || !strings.Contains(err.Error(), "resource group msp-missing does not exist") {
		t.Fatalf("apply into a missing group = %v, want an error naming it", err)
	}
	if r := resources(sim); len(r) != 0 {
		t.Fatalf("made %v", r)
	}
}

func groupDriver(t *testing.T, url, group string) *azure.Driver {
	t.Helper()
	identityEnv(t, url)
	d, err := azure.New(azure.Config{
		SubscriptionID: subscription, Location: "westeurope", Endpoint: url, ResourceGroup: group,
		PollFrequency: 10 * time.Millisecond, RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestValidateResourceGroup(t *testing.T) {
	for _, c := range []struct {
		name, want string
	}{
		{name: "rg"},
		{name: "a"},
		{name: "msp-Customer_1.prod(eu)"},
		{name: "Kunden-Müller"},
		{name: strings.Repeat("r", 90)},
		{name: "", want: "has 0 characters"},
		{name: strings.Repeat("r", 91), want: "has 91 characters"},
		{name: "rg.", want: "ends in '.'"},
		{name: "my rg", want: `' ' is not allowed`},
		{name: "rg/x", want: `'/' is not allowed`},
		{name: "rg\xff", want: "not valid UTF-8"},
	} {
		err := azure.ValidateResourceGroup(c.name)
		if c.want == "" && err != nil {
			t.Errorf("%q: %v, want valid", c.name, err)
		}
		if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "1-90 letters")) {
			t.Errorf("%q: %v, want an error saying %q and the rules", c.name, err, c.want)
		}
	}
	if _, err := azure.New(azure.Config{SubscriptionID: subscription, Location: "westeurope", ResourceGroup: "bad/group"}); err == nil || !strings.Contains(err.Error(), "bad/group") {
		t.Fatalf("New with a bad group = %v", err)
	}
}

// FuzzValidateResourceGroup: an accepted name keeps Azure's rules.
func FuzzValidateResourceGroup(f *testing.F) {
	for _, s := range []string{"rg", "rg.", "a(b)_c-d.e", "", "Müller", "x y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if azure.ValidateResourceGroup(name) != nil {
			return
		}
		if n := len([]rune(name)); n < 1 || n > 90 || strings.HasSuffix(name, ".") || strings.ContainsAny(name, " /\\?#%&") {
			t.Fatalf("accepted %q", name)
		}
	})
}
