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
)

// wrapped matches text in Terraform's error output, which wraps long
// messages at any space.
func wrapped(text string) *regexp.Regexp {
	words := strings.Fields(text)
	for i, w := range words {
		words[i] = regexp.QuoteMeta(w)
	}
	return regexp.MustCompile(strings.Join(words, `\s+`))
}

// TestAccTenantKey is the customer path: the provider runs with a
// tenant's own billing key (made with the admin key, role tenant). It
// creates its own managed cluster (registered as owned by its tenant) and
// scales it 1 → 3; it is refused, with a message naming what a tenant key
// may do, when it names another tenant in tenant_ids (at create and in
// place), when it imports another tenant's cluster (made beside it with
// the CLI and the admin key, in the same state directory), and when it
// creates a tenant (which needs the admin key).
func TestAccTenantKey(t *testing.T) {
	accPreCheck(t)
	state := stateDir(t)
	bill, admin := shared.get(t)
	mk := func(name string) string {
		tn, err := admin.CreateTenant(t.Context(), billingclient.TenantRequest{Organization: name, Name: name, Tier: "starter", Email: "ops@" + name + ".example"})
		if err != nil {
			t.Fatal(err)
		}
		return tn.ID
	}
	own, other := mk("tk-own"), mk("tk-other")
	key, err := admin.CreateTenantKey(t.Context(), own, "terraform")
	if err != nil {
		t.Fatal(err)
	}
	url, sum := agentArtifact(t)
	// Another tenant's cluster beside it, made by the operator with the CLI
	// and the admin key in the same state directory.
	out, err := exec.Command(binary, "cluster", "create", "tk-theirs", "--cloud", "local", "--nodes", "1", "--state-dir", state,
		"--billing-url", bill.URL(), "--billing-key", bill.AdminKey(), "--billing-ca-file", bill.CAFile(), "--tenant", other).CombinedOutput()
	if err != nil {
		t.Fatalf("aerolith cluster create tk-theirs: %v\n%s", err, out)
	}
	providers := fmt.Sprintf(`
provider "aerolith" {
  billing_url = %q
  billing_key = %q
  ca_file     = %q
  state_dir   = %q
}
`, bill.URL(), key.Key, bill.CAFile(), state)
	cluster := func(res, name string, n int, tenants string) string {
		return fmt.Sprintf(`
resource "aerolith_cluster" %q {
  name              = %q
  cloud             = "local"
  node_count        = %d
  agent_url         = %q
  agent_sha256      = %q
  tenant_ids        = [%s]
  delete_protection = false
}
`, res, name, n, url, sum, tenants)
	}
	mine := fmt.Sprintf("%q", own)
	both := fmt.Sprintf("%q, %q", own, other)
	refusal := "billing_key is a tenant key of tenant " + own + ", which manages only"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy: func(*terraform.State) error {
			for _, n := range []string{"tk-own", "tk-foreign"} {
				if err := checkClusterGone(state, n); err != nil {
					return err
				}
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: providers + cluster("own", "tk-own", 1, mine),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("aerolith_cluster.own", "nodes.#", "1"),
					func(s *terraform.State) error {
						// Billing registered it as the tenant's own.
						id := deploymentEnv(t, state, "tk-own").Rec.Spec.Managed.ClusterID
						cl, err := admin.GetCluster(t.Context(), id)
						if err != nil || cl.Owner != own {
							return fmt.Errorf("cluster %s in billing = %+v, %v; want owned by %s", id, cl, err, own)
						}
						return nil
					},
				),
			},
			{
				Config: providers + cluster("own", "tk-own", 3, mine),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction("aerolith_cluster.own", plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.TestCheckResourceAttr("aerolith_cluster.own", "nodes.#", "3"),
			},
			{
				Config:      providers + cluster("own", "tk-own", 3, both),
				ExpectError: wrapped(refusal),
			},
			{
				Config:      providers + cluster("own", "tk-own", 3, mine) + cluster("foreign", "tk-foreign", 1, fmt.Sprintf("%q", other)),
				ExpectError: wrapped(refusal),
			},
			{
				Config:        providers + cluster("own", "tk-own", 3, mine) + cluster("stolen", "tk-theirs", 1, fmt.Sprintf("%q", other)),
				ResourceName:  "aerolith_cluster.stolen",
				ImportState:   true,
				ImportStateId: "tk-theirs",
				ExpectError:   wrapped("cluster tk-theirs is not registered to this key's tenant: " + refusal),
			},
			{
				Config: providers + cluster("own", "tk-own", 3, mine) + `
resource "aerolith_tenant" "new" {
  organization = "New"
  name         = "tk-new"
  tier         = "starter"
  email        = "ops@new.example"
}
`,
				ExpectError: wrapped("creating a tenant needs billing's admin key"),
			},
			{Config: providers + cluster("own", "tk-own", 3, mine)},
		},
	})
}
