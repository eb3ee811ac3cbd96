package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// TestAccParallelOnOneCluster: Terraform creates, refreshes and plans
// several collections and indexes of one cluster at once (its default
// -parallelism of 10), and each of them takes the cluster's lock to
// reach the tenant's data: they wait for each other rather than fail
// with "being changed by another aerolith command".
func TestAccParallelOnOneCluster(t *testing.T) {
	accPreCheck(t)
	state := stateDir(t)
	const name = "tf-par"
	url, sum := agentArtifact(t)
	var extra strings.Builder
	for i := range 4 {
		fmt.Fprintf(&extra, `
resource "aerolith_collection" "c%[1]d" {
  cluster           = aerolith_cluster.c.id
  tenant            = aerolith_tenant.shop.id
  name              = "coll%[1]d"
  delete_protection = false
}

resource "aerolith_index" "i%[1]d" {
  cluster    = aerolith_cluster.c.id
  tenant     = aerolith_tenant.shop.id
  collection = aerolith_collection.c%[1]d.name
  field      = "customer"
}
`, i)
	}
	cfg := providerBlock(t, state, "") + fmt.Sprintf(`
resource "aerolith_tenant" "shop" {
  organization = "Shop"
  name         = "shop-par"
  tier         = "starter"
  email        = "ops@shop.example"
}

resource "aerolith_cluster" "c" {
  name              = %q
  cloud             = "local"
  node_count        = 1
  agent_url         = %q
  agent_sha256      = %q
  tenant_ids        = [aerolith_tenant.shop.id]
  delete_protection = false
}
%s`, name, url, sum, extra.String())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy: func(*terraform.State) error {
			return checkClusterGone(state, name)
		},
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.TestCheckResourceAttr("aerolith_index.i3", "field", "customer"),
			},
			// terraform refresh, then plan: every read at once.
			{RefreshState: true},
			{Config: cfg, PlanOnly: true},
			{Config: cfg, PlanOnly: true},
		},
	})
}
