package provider

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim/cloudsimtest"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
)

// TestAccClusterAzureResourceGroup: azure clusters in resource groups an
// MSP owns, on the simulated ARM: one provider puts one cluster into the
// group its resource names and another into the provider block's default
// group; every resource of each is in its group and no group of the
// cluster's own is made. Import shows the group; a cluster the CLI made
// with --resource-group imports with it and plans no change; a changed
// group is refused at plan time (a change of case is the same group, as
// ARM's names are case-insensitive); a changed provider default leaves
// existing clusters where they are; destroy leaves both groups, empty.
func TestAccClusterAzureResourceGroup(t *testing.T) {
	accPreCheck(t)
	bill, admin := shared.get(t)
	sim := cloudsimtest.Start(t, binary)
	cloudsimtest.SetCredentials(t, "azure", sim.URL)
	for _, g := range []string{"msp-shop", "msp-default"} {
		cloudsimtest.AzureResourceGroup(t, sim.URL, g, "westeurope")
	}
	tenant, err := admin.CreateTenant(t.Context(), billingclient.TenantRequest{Organization: "MSP", Name: "rg-msp", Tier: "starter", Email: "ops@msp.example"})
	if err != nil {
		t.Fatal(err)
	}
	state := stateDir(t)
	cluster := func(res, name, extra string) string {
		return fmt.Sprintf(`
resource "aerolith_cluster" %q {
  name          = %q
  cloud         = "azure"
  node_count    = 1
  agent_url     = %q
  agent_sha256  = %q
  allowed_cidrs = ["127.0.0.0/8"]
  tenant_ids    = [%q]
%s
}
`, res, name, sim.AgentURL, sim.AgentSHA256, tenant.ID, extra)
	}
	cfg := func(defaultGroup, aGroup string, withCLI bool, protect string) string {
		c := providerBlock(t, state, fmt.Sprintf("  azure {\n    subscription_id = %q\n    location        = \"westeurope\"\n    endpoint        = %q\n    resource_group  = %q\n  }",
			cloudsimtest.AzureSubscription, sim.URL, defaultGroup)) +
			cluster("a", "tf-rg-a", fmt.Sprintf("  resource_group = %q\n%s", aGroup, protect)) +
			cluster("b", "tf-rg-b", protect)
		if withCLI {
			c += cluster("cli", "cli-rg", "  resource_group = \"msp-shop\"\n"+protect)
		}
		return c
	}
	// inGroup: the cluster's VMs, NICs, public IPs, network and security
	// group are all in group, and the record keeps group as given.
	inGroup := func(cluster, group string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			n := 0
			for _, r := range sim.Server.ARMResources() {
				if r.Type == "Microsoft.Resources/resourceGroups" {
					if strings.HasPrefix(r.Name, "aerolith-") {
						return fmt.Errorf("resource group %s made: want only the given groups", r.Name)
					}
					continue
				}
				if r.Tags["aerolith-cluster"] != cluster {
					continue
				}
				n++
				if !strings.Contains(strings.ToLower(r.ID), "/resourcegroups/"+group+"/") {
					return fmt.Errorf("%s of cluster %s is not in group %s", r.ID, cluster, group)
				}
			}
			if n < 5 { // a VM, its NIC and public IP, the network, the security group
				return fmt.Errorf("cluster %s has %d resources in the simulator", cluster, n)
			}
			rec, _, err := (deployment.Store{Dir: state}).Load(cluster)
			if err != nil {
				return err
			}
			if rec.Azure == nil || rec.Azure.ResourceGroup != group {
				return fmt.Errorf("record of %s: azure settings %+v, want resource group %s", cluster, rec.Azure, group)
			}
			return nil
		}
	}
	cliCreate := func() {
		out, err := exec.CommandContext(t.Context(), binary, "cluster", "create", "cli-rg", "--cloud", "azure", "--region", "westeurope",
			"--subscription", cloudsimtest.AzureSubscription, "--resource-group", "msp-shop", "--endpoint", sim.URL,
			"--nodes", "1", "--agent-url", sim.AgentURL, "--agent-sha256", sim.AgentSHA256, "--allowed-cidr", "127.0.0.0/8",
			"--state-dir", state, "--billing-url", bill.URL(), "--billing-key", bill.AdminKey(), "--billing-ca-file", bill.CAFile(), "--tenant", tenant.ID).CombinedOutput()
		if err != nil {
			t.Fatalf("aerolith cluster create cli-rg --resource-group msp-shop: %v\n%s", err, out)
		}
	}
	empty := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy: func(*terraform.State) error {
			var left []string
			for _, r := range sim.Server.ARMResources() {
				left = append(left, r.Type+"/"+r.Name)
			}
			want := []string{"Microsoft.Resources/resourceGroups/msp-default", "Microsoft.Resources/resourceGroups/msp-shop"}
			if strings.Join(left, " ") != strings.Join(want, " ") {
				return fmt.Errorf("after destroy the simulator holds %v, want only the given groups %v", left, want)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: cfg("msp-default", "msp-shop", false, ""),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("aerolith_cluster.a", "resource_group", "msp-shop"),
					resource.TestCheckResourceAttr("aerolith_cluster.b", "resource_group", "msp-default"),
					resource.TestMatchResourceAttr("aerolith_cluster.a", "nodes.0.instance_id", regexp.MustCompile(`(?i)/resourceGroups/msp-shop/providers/Microsoft\.Compute/virtualMachines/`)),
					inGroup("tf-rg-a", "msp-shop"),
					inGroup("tf-rg-b", "msp-default"),
				),
			},
			{ResourceName: "aerolith_cluster.a", ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"timeouts"}},
			{ResourceName: "aerolith_cluster.b", ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"timeouts"}},
			{
				Config:      cfg("msp-default", "msp-other", false, ""),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`resource_group of cluster tf-rg-a cannot change \(from\s+"msp-shop" to\s+"msp-other"\)`),
			},
			// The same group in another case: an update of the attribute
			// alone; another default for clusters to come: nothing to do
			// to b.
			{
				Config: cfg("msp-shop", "MSP-Shop", false, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("aerolith_cluster.a", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("aerolith_cluster.b", plancheck.ResourceActionNoop),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("aerolith_cluster.a", "resource_group", "MSP-Shop"),
					resource.TestCheckResourceAttr("aerolith_cluster.b", "resource_group", "msp-default"),
					inGroup("tf-rg-a", "msp-shop"),
				),
			},
			{
				PreConfig:          cliCreate,
				Config:             cfg("msp-default", "MSP-Shop", true, ""),
				ResourceName:       "aerolith_cluster.cli",
				ImportState:        true,
				ImportStateId:      "cli-rg",
				ImportStatePersist: true,
				ImportStateCheck: func(s []*terraform.InstanceState) error {
					for _, is := range s {
						if is.ID == "cli-rg" {
							if g := is.Attributes["resource_group"]; g != "msp-shop" {
								return fmt.Errorf("cli-rg imported with resource_group %q, want msp-shop", g)
							}
							return nil
						}
					}
					return fmt.Errorf("cli-rg not imported: %v", s)
				},
			},
			{
				Config:           cfg("msp-default", "MSP-Shop", true, "") + "\ndata \"aerolith_cluster\" \"cli\" {\n  name = \"cli-rg\"\n}\n",
				ConfigPlanChecks: empty,
				Check: resource.ComposeAggregateTestCheckFunc(
					inGroup("cli-rg", "msp-shop"),
					resource.TestCheckResourceAttr("data.aerolith_cluster.cli", "resource_group", "msp-shop"),
				),
			},
			{Config: cfg("msp-default", "MSP-Shop", true, "  delete_protection = false\n")},
		},
	})
}
