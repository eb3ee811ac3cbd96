package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/aerolithdb/aerolith/billing/contract"
)

func tenantConfig(t *testing.T, tier, email string) string {
	return providerBlock(t, t.TempDir(), "") + fmt.Sprintf(`
resource "aerolith_tenant" "acme" {
  organization = "Acme Corp"
  name         = "acme-prod"
  tier         = %q
  email        = %q
}

data "aerolith_tenant" "acme" {
  id = aerolith_tenant.acme.id
}

data "aerolith_pricing_tiers" "all" {}

data "aerolith_tenant_usage" "acme" {
  tenant_id = aerolith_tenant.acme.id
}
`, tier, email)
}

// TestAccTenant: create, import, a tier change in place, an empty plan
// after apply, bad input refused at plan time, destroy (soft delete).
func TestAccTenant(t *testing.T) {
	accPreCheck(t)
	_, admin := shared.get(t)
	var id string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy: func(s *terraform.State) error {
			tn, err := admin.GetTenant(t.Context(), id)
			if err == nil && tn.Status != contract.StatusDeleted {
				return fmt.Errorf("tenant %s still %s after destroy", id, tn.Status)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: tenantConfig(t, "starter", "ops@acme.example"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("aerolith_tenant.acme", "status", "active"),
					resource.TestCheckResourceAttr("aerolith_tenant.acme", "tier", "starter"),
					resource.TestCheckResourceAttrPair("data.aerolith_tenant.acme", "email", "aerolith_tenant.acme", "email"),
					resource.TestCheckResourceAttr("data.aerolith_pricing_tiers.all", "names.#", "4"),
					resource.TestCheckResourceAttr("data.aerolith_pricing_tiers.all", "tiers.1.name", "starter"),
					resource.TestCheckResourceAttr("data.aerolith_pricing_tiers.all", "tiers.1.base_price_micros", "10000000"),
					resource.TestCheckResourceAttr("data.aerolith_tenant_usage.acme", "writes", "0"),
					func(s *terraform.State) error {
						id = s.RootModule().Resources["aerolith_tenant.acme"].Primary.ID
						tn, err := admin.GetTenant(t.Context(), id)
						if err != nil || tn.Tier != "starter" {
							return fmt.Errorf("billing has %+v, %v", tn, err)
						}
						return nil
					},
				),
			},
			{ResourceName: "aerolith_tenant.acme", ImportState: true, ImportStateVerify: true},
			{
				Config:      tenantConfig(t, "gold", "billing@acme.example"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`tier "gold" is not one of billing's tiers; want one of free, starter,\s+professional, enterprise`),
			},
			{
				Config:      tenantConfig(t, "professional", "not-an-address"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`must be an email address`),
			},
			{
				Config: tenantConfig(t, "professional", "billing@acme.example"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction("aerolith_tenant.acme", plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: func(s *terraform.State) error {
					tn, err := admin.GetTenant(t.Context(), id)
					if err != nil || tn.Tier != "professional" || tn.Email != "billing@acme.example" {
						return fmt.Errorf("billing has %+v, %v", tn, err)
					}
					return nil
				},
			},
		},
	})
}
