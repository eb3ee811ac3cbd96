package provider

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
	"github.com/aerolithdb/aerolith/provisioner/deployment/deploymenttest"
)

// localClusterConfig is a local cluster of n nodes with a key and an index.
func localClusterConfig(t *testing.T, stateDir, name string, n int, extra string) string {
	t.Helper()
	url, sum := agentArtifact(t)
	return providerBlock(t, stateDir, "") + fmt.Sprintf(`
resource "aerolith_tenant" "shop" {
  organization = "Shop"
  name         = "shop"
  tier         = "starter"
  email        = "ops@shop.example"
}

resource "aerolith_cluster" "c" {
  name         = %q
  cloud        = "local"
  node_count   = %d
  agent_url    = %q
  agent_sha256 = %q
  tenant_ids   = [aerolith_tenant.shop.id]
%s
  timeouts {
    create = "5m"
  }
}

resource "aerolith_api_key" "app" {
  cluster = aerolith_cluster.c.id
  tenant  = aerolith_tenant.shop.id
  role    = "readwrite"
  name    = "app"
}

resource "aerolith_index" "by_customer" {
  cluster    = aerolith_cluster.c.id
  tenant     = aerolith_tenant.shop.id
  collection = "orders"
  field      = "customer"
}

data "aerolith_cluster" "c" {
  name       = aerolith_cluster.c.name
  depends_on = [aerolith_cluster.c]
}
`, name, n, url, sum, extra)
}

// deploymentEnv is what the provider keeps of a cluster, as a test sees it.
func deploymentEnv(t *testing.T, stateDir, name string) *deployment.Env {
	t.Helper()
	return deploymenttest.Open(t, stateDir, name, []string{binary, deployment.LocalInstanceCommand})
}

// terminate ends node's instance behind Terraform's back.
func terminate(t *testing.T, stateDir, name, node string) {
	t.Helper()
	deploymenttest.Terminate(t, deploymentEnv(t, stateDir, name), node)
}

// appClient reaches the cluster with the aerolith_api_key's secret.
func appClient(t *testing.T, s *terraform.State, stateDir, name string) (*client.Client, error) {
	env := deploymentEnv(t, stateDir, name)
	urls, err := env.Endpoints(context.Background(), "")
	if err != nil {
		return nil, err
	}
	return env.Client(urls, s.RootModule().Resources["aerolith_api_key.app"].Primary.Attributes["secret"])
}

func putDoc(t *testing.T, stateDir, name, id string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		c, err := appClient(t, s, stateDir, name)
		if err != nil {
			return err
		}
		_, err = c.Put(context.Background(), "orders", id, map[string]any{"customer": "c-" + id})
		return err
	}
}

func getDocs(t *testing.T, stateDir, name string, ids ...string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		c, err := appClient(t, s, stateDir, name)
		if err != nil {
			return err
		}
		for _, id := range ids {
			d, err := c.Get(context.Background(), "orders", id)
			if err != nil {
				return fmt.Errorf("document %s written before: %w", id, err)
			}
			if string(d.Data) != fmt.Sprintf(`{"customer":"c-%s"}`, id) {
				return fmt.Errorf("document %s = %s", id, d.Data)
			}
		}
		return nil
	}
}

// TestAccClusterLocal: a local cluster of 3 with a key and an index;
// import of each; 3 → 5 → 3 in place with the data kept; a node
// terminated outside Terraform shows as a diff that apply repairs; an
// immutable change and bad input refused at plan time; delete_protection
// refuses destroy until it is turned off.
func TestAccClusterLocal(t *testing.T) {
	accPreCheck(t)
	state := stateDir(t)
	const name = "tf-local"
	cfg := func(n int, extra string) string { return localClusterConfig(t, state, name, n, extra) }
	update := func(addr string) resource.ConfigPlanChecks {
		return resource.ConfigPlanChecks{
			PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
			PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy: func(*terraform.State) error {
			if _, _, err := (deployment.Store{Dir: state}).Load(name); err == nil {
				return fmt.Errorf("cluster %s still in the state directory", name)
			}
			if _, err := os.Stat(state + "/local/" + name); !os.IsNotExist(err) {
				return fmt.Errorf("local instances of %s left: %v", name, err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: cfg(3, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("aerolith_cluster.c", "id", name),
					resource.TestCheckResourceAttr("aerolith_cluster.c", "nodes.#", "3"),
					resource.TestCheckResourceAttr("aerolith_cluster.c", "endpoints.#", "3"),
					resource.TestCheckResourceAttr("aerolith_cluster.c", "delete_protection", "true"),
					resource.TestCheckResourceAttr("aerolith_cluster.c", "nodes.0.state", "running"),
					resource.TestMatchResourceAttr("aerolith_cluster.c", "ca_certificate", regexp.MustCompile("BEGIN CERTIFICATE")),
					resource.TestMatchResourceAttr("aerolith_cluster.c", "endpoints.0", regexp.MustCompile(`^https://127\.`)),
					resource.TestCheckResourceAttrSet("aerolith_api_key.app", "secret"),
					resource.TestCheckResourceAttrPair("data.aerolith_cluster.c", "endpoints.#", "aerolith_cluster.c", "endpoints.#"),
					putDoc(t, state, name, "before-scale"),
				),
			},
			{ResourceName: "aerolith_cluster.c", ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"timeouts"}},
			{ResourceName: "aerolith_api_key.app", ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"secret"},
				ImportStateIdFunc: func(s *terraform.State) (string, error) {
					k := s.RootModule().Resources["aerolith_api_key.app"].Primary
					return name + "/" + k.Attributes["tenant"] + "/" + k.ID, nil
				}},
			{ResourceName: "aerolith_index.by_customer", ImportState: true, ImportStateVerify: true},
			{
				Config:      cfg(3, `tags = { team = "core" }`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`tags of cluster tf-local cannot change`),
			},
			{
				Config:      cfg(4, ""),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`nodes: 4 nodes: want 1, 3, 5 or 7`),
			},
			{
				Config:           cfg(5, ""),
				ConfigPlanChecks: update("aerolith_cluster.c"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("aerolith_cluster.c", "nodes.#", "5"),
					getDocs(t, state, name, "before-scale"),
					putDoc(t, state, name, "at-five"),
				),
			},
			{
				Config:           cfg(3, ""),
				ConfigPlanChecks: update("aerolith_cluster.c"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("aerolith_cluster.c", "nodes.#", "3"),
					getDocs(t, state, name, "before-scale", "at-five"),
				),
			},
			{
				// Drift: a node's instance terminated outside Terraform.
				PreConfig:        func() { terminate(t, state, name, provisioner.NodeID(name, 2)) },
				Config:           cfg(3, ""),
				ConfigPlanChecks: update("aerolith_cluster.c"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("aerolith_cluster.c", "nodes.#", "3"),
					resource.TestCheckResourceAttr("aerolith_cluster.c", "nodes.1.state", "running"),
					getDocs(t, state, name, "before-scale", "at-five"),
				),
			},
			{
				Config:      cfg(3, ""),
				Destroy:     true,
				ExpectError: regexp.MustCompile(`delete_protection = true`),
			},
			{
				Config:           cfg(3, "delete_protection = false"),
				ConfigPlanChecks: update("aerolith_cluster.c"),
			},
		},
	})
}

// TestAccClusterDeletedOutside: a cluster destroyed with the CLI (which
// shares the provider's state directory) leaves the state with a warning
// and the next apply creates it again.
func TestAccClusterDeletedOutside(t *testing.T) {
	accPreCheck(t)
	state := stateDir(t)
	const name = "tf-gone"
	url, sum := agentArtifact(t)
	cfg := providerBlock(t, state, "") + fmt.Sprintf(`
resource "aerolith_cluster" "c" {
  name              = %q
  cloud             = "local"
  node_count        = 1
  agent_url         = %q
  agent_sha256      = %q
  insecure_http     = true
  delete_protection = false
}
`, name, url, sum)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		Steps: []resource.TestStep{
			{Config: cfg, Check: resource.TestCheckResourceAttr("aerolith_cluster.c", "nodes.#", "1")},
			{
				PreConfig: func() {
					out, err := exec.Command(binary, "cluster", "destroy", name, "--yes", "--state-dir", state).CombinedOutput()
					if err != nil {
						t.Fatalf("aerolith cluster destroy: %v\n%s", err, out)
					}
				},
				// Refresh drops it from the state; apply makes it again.
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("aerolith_cluster.c", plancheck.ResourceActionCreate)},
				},
				Check: resource.TestCheckResourceAttr("aerolith_cluster.c", "nodes.#", "1"),
			},
		},
	})
}

// TestAccClusterInterruptedCreate: an apply that fails mid-create (its
// create timeout ends before the cluster is formed) and the apply that
// follows make one cluster: the second resumes the first's record, with
// the same admin key, and launches no node twice.
func TestAccClusterInterruptedCreate(t *testing.T) {
	accPreCheck(t)
	state := stateDir(t)
	const name = "tf-resume"
	url, sum := agentArtifact(t)
	cfg := func(timeout string) string {
		return providerBlock(t, state, "") + fmt.Sprintf(`
resource "aerolith_cluster" "c" {
  name              = %q
  cloud             = "local"
  node_count        = 3
  agent_url         = %q
  agent_sha256      = %q
  insecure_http     = true
  delete_protection = false
  timeouts {
    create = %q
  }
}
`, name, url, sum, timeout)
	}
	var adminKey string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		Steps: []resource.TestStep{
			{
				PreConfig:   func() {},
				Config:      cfg("1ms"),
				ExpectError: regexp.MustCompile(`apply again to resume`),
			},
			{
				PreConfig: func() {
					_, sec, err := (deployment.Store{Dir: state}).Load(name)
					if err != nil {
						t.Fatalf("the interrupted create left no record: %v", err)
					}
					adminKey = sec.AdminKey
				},
				Config: cfg("5m"),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("aerolith_cluster.c", "nodes.#", "3"),
					func(s *terraform.State) error {
						if got := s.RootModule().Resources["aerolith_cluster.c"].Primary.Attributes["admin_key"]; got != adminKey {
							return fmt.Errorf("admin key changed: the second apply made another cluster")
						}
						env := deploymentEnv(t, state, name)
						insts, err := env.Drv.Instances(context.Background(), &env.Rec.Spec)
						if err != nil {
							return err
						}
						if len(insts) != 3 {
							return fmt.Errorf("%d instances were launched for 3 nodes: %+v", len(insts), insts)
						}
						return nil
					},
				),
			},
		},
	})
}
