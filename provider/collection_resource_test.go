package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/aerolithdb/aerolith/provisioner/deployment"
)

// checkClusterGone is a CheckDestroy: the cluster's record has left the
// state directory.
func checkClusterGone(stateDir, name string) error {
	if _, _, err := (deployment.Store{Dir: stateDir}).Load(name); err == nil {
		return fmt.Errorf("cluster %s still in the state directory", name)
	}
	return nil
}

// TestAccCollection: aerolith_collection's lifecycle on a one-node managed
// cluster: created empty with delete_protection on by default; imported;
// a second resource naming the same collection refused (never adopted);
// destroy refused while protected; protection turned off in place; then
// removing it from the configuration drops the collection with the
// document written into it, and the cluster goes at the end.
func TestAccCollection(t *testing.T) {
	accPreCheck(t)
	state := stateDir(t)
	const name = "tf-coll"
	url, sum := agentArtifact(t)
	cfg := func(collection string) string {
		return providerBlock(t, state, "") + fmt.Sprintf(`
resource "aerolith_tenant" "shop" {
  organization = "Shop"
  name         = "shop-coll"
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

resource "aerolith_api_key" "app" {
  cluster = aerolith_cluster.c.id
  tenant  = aerolith_tenant.shop.id
  role    = "readwrite"
  name    = "app"
}
%s`, name, url, sum, collection)
	}
	coll := func(extra string) string {
		return fmt.Sprintf(`
resource "aerolith_collection" "events" {
  cluster = aerolith_cluster.c.id
  tenant  = aerolith_tenant.shop.id
  name    = "events"
%s
}
`, extra)
	}
	collections := func(s *terraform.State) ([]string, error) {
		c, err := appClient(t, s, state, name)
		if err != nil {
			return nil, err
		}
		infos, err := c.Collections(context.Background())
		var names []string
		for _, ci := range infos {
			names = append(names, ci.Name)
		}
		return names, err
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy: func(*terraform.State) error {
			return checkClusterGone(state, name)
		},
		Steps: []resource.TestStep{
			{
				Config: cfg(coll("")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr("aerolith_collection.events", "id", regexp.MustCompile(`^tf-coll/[^/]+/events$`)),
					resource.TestCheckResourceAttr("aerolith_collection.events", "delete_protection", "true"),
					func(s *terraform.State) error {
						names, err := collections(s)
						if err != nil || !slices.Equal(names, []string{"events"}) {
							return fmt.Errorf("the tenant's collections = %v, %v; want [events], empty", names, err)
						}
						c, err := appClient(t, s, state, name)
						if err != nil {
							return err
						}
						_, err = c.Put(context.Background(), "events", "e1", map[string]any{"kind": "signup"})
						return err
					},
				),
			},
			{ResourceName: "aerolith_collection.events", ImportState: true, ImportStateVerify: true},
			{
				Config: cfg(coll("") + `
resource "aerolith_collection" "again" {
  cluster = aerolith_cluster.c.id
  tenant  = aerolith_tenant.shop.id
  name    = "events"
}
`),
				ExpectError: regexp.MustCompile(`collection events already exists: import it`),
			},
			{
				Config:      cfg(""),
				ExpectError: regexp.MustCompile(`delete_protection = true`),
			},
			{
				Config: cfg(coll("  delete_protection = false")),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction("aerolith_collection.events", plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.TestCheckResourceAttr("aerolith_collection.events", "delete_protection", "false"),
			},
			{
				Config: cfg(""),
				Check: func(s *terraform.State) error {
					if names, err := collections(s); err != nil || len(names) != 0 {
						return fmt.Errorf("collections after destroying aerolith_collection.events = %v, %v; want none", names, err)
					}
					return nil
				},
			},
		},
	})
}
