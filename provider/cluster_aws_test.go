package provider

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/cloudinit"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim/cloudsimtest"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
)

// cloudSim is the cloud simulator (EC2, GCE and ARM on one server)
// booting every instance from its user data (cloud-init as a VM would run
// it) and an HTTP server holding the agent binary, as a release download.
func cloudSim(t *testing.T) (simURL, agentURL, agentSHA string) {
	t.Helper()
	s := cloudsimtest.Start(t, binary)
	return s.URL, s.AgentURL, s.AgentSHA256
}

// simCloud is one cloud of the simulator as the provider sees it.
type simCloud struct {
	cloud string
	// block is the provider block's settings of the cloud.
	block func(simURL string) string
	// cluster is the cloud's attributes of aerolith_cluster.
	cluster string
	checks  []resource.TestCheckFunc
	// immutable is an attribute change refused at plan time, and the
	// refusal.
	immutable, refusal string
}

var awsCloud = simCloud{
	cloud: "aws",
	block: func(simURL string) string {
		return fmt.Sprintf("  aws {\n    region   = \"eu-west-1\"\n    endpoint = %q\n  }", simURL)
	},
	cluster: `allowed_cidrs = ["127.0.0.0/8"]`,
	checks: []resource.TestCheckFunc{
		resource.TestCheckResourceAttr("aerolith_cluster.c", "region", "eu-west-1"),
		resource.TestCheckResourceAttr("aerolith_cluster.c", "instance_type", "t3.medium"),
		resource.TestCheckResourceAttr("aerolith_cluster.c", "disk_gb", "20"),
		resource.TestMatchResourceAttr("aerolith_cluster.c", "nodes.0.instance_id", regexp.MustCompile(`^i-`)),
	},
	immutable: `instance_type = "m6i.large"`,
	refusal:   `instance_type of cluster tf-aws cannot change`,
}

// TestAccClusterAWSSimulator: a managed 3-node cluster on the simulated
// EC2 (the official SDK against provisioner/cloudsim); see
// testAccClusterSimulator.
func TestAccClusterAWSSimulator(t *testing.T) { testAccClusterSimulator(t, awsCloud) }

// testAccClusterSimulator: a managed 3-node cluster on a simulated cloud
// (its official SDK against provisioner/cloudsim), registered in billing
// for a tenant the same configuration makes; import; a second tenant added
// in place; a node terminated in the simulator repaired by apply; an
// immutable change refused at plan time; destroy deregisters it from
// billing.
func testAccClusterSimulator(t *testing.T, sc simCloud) {
	accPreCheck(t)
	_, admin := shared.get(t)
	simURL, agentURL, sum := cloudSim(t)
	cloudsimtest.SetCredentials(t, sc.cloud, simURL)
	state := stateDir(t)
	name := "tf-" + sc.cloud
	cfg := func(tenants string, extra string) string {
		return providerBlock(t, state, sc.block(simURL)) + fmt.Sprintf(`
resource "aerolith_tenant" "a" {
  organization = "Acme"
  name         = "a"
  tier         = "starter"
  email        = "ops@acme.example"
}

resource "aerolith_tenant" "b" {
  organization = "Beta"
  name         = "b"
  tier         = "free"
  email        = "ops@beta.example"
}

resource "aerolith_cluster" "c" {
  name         = %q
  cloud        = %q
  node_count   = 3
  agent_url    = %q
  agent_sha256 = %q
  tenant_ids   = [%s]
  %s
%s
}
`, name, sc.cloud, agentURL, sum, tenants, sc.cluster, extra)
	}
	var clusterID, token string
	billingTenants := func(want ...string) resource.TestCheckFunc {
		return func(s *terraform.State) error {
			clusterID = s.RootModule().Resources["aerolith_cluster.c"].Primary.Attributes["billing_cluster_id"]
			_, sec, err := (deployment.Store{Dir: state}).Load(name)
			if err != nil {
				return err
			}
			token = sec.EnrollmentToken
			var ids []string
			for _, r := range want {
				ids = append(ids, s.RootModule().Resources[r].Primary.ID)
			}
			got, err := admin.ListClusterTenants(t.Context(), clusterID)
			if err != nil {
				return err
			}
			slices.Sort(got.Tenants)
			slices.Sort(ids)
			if !slices.Equal(got.Tenants, ids) {
				return fmt.Errorf("billing: cluster %s serves %v, want %v", clusterID, got.Tenants, ids)
			}
			return nil
		}
	}
	update := resource.ConfigPlanChecks{
		PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction("aerolith_cluster.c", plancheck.ResourceActionUpdate)},
		PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		CheckDestroy: func(*terraform.State) error {
			// Deregistered: billing keeps the record, the token stops working.
			bill, _ := shared.get(t)
			bc, err := billingclient.New(billingclient.Config{URL: bill.URL(), Key: token, HTTPClient: bill.HTTPClient()})
			if err != nil {
				return err
			}
			if _, err := bc.WhoAmI(t.Context()); !billingclient.IsUnauthenticated(err) {
				return fmt.Errorf("the enrollment token of %s after destroy: %v, want 401", clusterID, err)
			}
			if _, _, err := (deployment.Store{Dir: state}).Load(name); err == nil {
				return fmt.Errorf("cluster %s still in the state directory", name)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: cfg("aerolith_tenant.a.id", ""),
				Check: resource.ComposeAggregateTestCheckFunc(append(sc.checks,
					resource.TestCheckResourceAttr("aerolith_cluster.c", "nodes.#", "3"),
					resource.TestMatchResourceAttr("aerolith_cluster.c", "ca_certificate", regexp.MustCompile("BEGIN CERTIFICATE")),
					billingTenants("aerolith_tenant.a"),
				)...),
			},
			{ResourceName: "aerolith_cluster.c", ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"timeouts"}},
			{
				Config:           cfg("aerolith_tenant.a.id, aerolith_tenant.b.id", ""),
				ConfigPlanChecks: update,
				Check:            billingTenants("aerolith_tenant.a", "aerolith_tenant.b"),
			},
			{
				PreConfig:        func() { terminate(t, state, name, provisioner.NodeID(name, 3)) },
				Config:           cfg("aerolith_tenant.a.id, aerolith_tenant.b.id", ""),
				ConfigPlanChecks: update,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("aerolith_cluster.c", "nodes.#", "3"),
					resource.TestCheckResourceAttr("aerolith_cluster.c", "nodes.2.state", "running"),
				),
			},
			{
				Config:      cfg("aerolith_tenant.a.id, aerolith_tenant.b.id", sc.immutable),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(sc.refusal),
			},
			{
				Config:           cfg("aerolith_tenant.a.id, aerolith_tenant.b.id", "delete_protection = false"),
				ConfigPlanChecks: update,
			},
		},
	})
}

// TestAccPlanTimeValidation: bad clusters are refused by terraform plan
// with the spec's messages, before anything is made.
func TestAccPlanTimeValidation(t *testing.T) {
	accPreCheck(t)
	url, sum := agentArtifact(t)
	cluster := func(body string) string {
		return providerBlock(t, t.TempDir(), `  aws {
    region = "eu-west-1"
  }`) + fmt.Sprintf(`
resource "aerolith_cluster" "bad" {
  agent_url    = %q
  agent_sha256 = %q
%s
}
`, url, sum, body)
	}
	var steps []resource.TestStep
	for _, c := range []struct{ body, want string }{
		{`name = "Bad_Name"` + "\n cloud = \"local\"", `"Bad_Name" is not a cluster name: 3-40 characters`},
		{`name = "ok-name"` + "\n cloud = \"local\"\n node_count = 2", `2 nodes: want 1, 3, 5 or 7`},
		{`name = "ok-name"` + "\n cloud = \"aws\"\n region = \"mars-1\"\n insecure_http = true", `"mars-1" is not a region of aws; want one of af-south-1`},
		{`name = "ok-name"` + "\n cloud = \"aws\"\n instance_type = \"huge\"\n insecure_http = true", `"huge" is not an EC2 instance type such as t3.medium`},
		{`name = "ok-name"` + "\n cloud = \"aws\"\n allowed_cidrs = [\"10.0.0.1/8\"]\n insecure_http = true", `"10.0.0.1/8" has host bits set; did you mean 10.0.0.0/8\?`},
		{`name = "ok-name"` + "\n cloud = \"aws\"", `nodes get their certificates from billing: set tenant_ids`},
		{`name = "ok-name"` + "\n cloud = \"local\"\n region = \"us-east-1\"", `region: not used by the local cloud; remove it`},
		{`name = "ok-name"` + "\n cloud = \"azure\"\n insecure_http = true\n resource_group = \"msp rg.\"", `resource_group: resource group "msp rg.": ' ' is not allowed; want 1-90 letters`},
		{`name = "ok-name"` + "\n cloud = \"azure\"\n insecure_http = true\n resource_group = \"msp-rg.\"", `resource group "msp-rg." ends in '.'`},
		{`name = "ok-name"` + "\n cloud = \"aws\"\n insecure_http = true\n resource_group = \"msp-rg\"", `resource_group: the resource group of an azure cluster's resources, not used by the aws cloud; remove it`},
	} {
		steps = append(steps, resource.TestStep{Config: cluster(c.body), PlanOnly: true, ExpectError: regexp.MustCompile(strings.ReplaceAll(c.want, " ", `\s+`))})
	}
	// A cloud whose driver is not built yet is refused at plan time (the
	// list shrinks as drivers land).
	for _, c := range provisioner.Clouds {
		if deployment.Supported(c) {
			continue
		}
		want := regexp.QuoteMeta(deployment.UnsupportedCloudError{Cloud: c}.Error())
		steps = append(steps, resource.TestStep{Config: cluster(`name = "ok-name"` + "\n cloud = \"" + string(c) + "\""), PlanOnly: true,
			ExpectError: regexp.MustCompile(strings.ReplaceAll(want, " ", `\s+`))})
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: factories, Steps: steps})
}

// TestAccCloudInit: the data source renders the user data every path
// boots nodes with, parsed back by the renderer's strict parser.
func TestAccCloudInit(t *testing.T) {
	accPreCheck(t)
	url, sum := agentArtifact(t)
	cfg := providerBlock(t, t.TempDir(), "") + fmt.Sprintf(`
data "aerolith_cloud_init" "n2" {
  cluster       = "shop"
  cloud         = "aws"
  region        = "eu-west-1"
  node_index    = 2
  node_count    = 3
  agent_url     = %q
  agent_sha256  = %q
  admin_key     = "admin-key-0123456789abcdef"
  discover      = "provider=aws region=eu-west-1 tag_key=aerolith-cluster tag_value=shop"
  insecure_http = true
}
`, url, sum)
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: factories, Steps: []resource.TestStep{{
		Config: cfg,
		Check: resource.ComposeAggregateTestCheckFunc(
			resource.TestCheckResourceAttr("data.aerolith_cloud_init.n2", "node_id", "shop-n2"),
			func(s *terraform.State) error {
				ud := s.RootModule().Resources["data.aerolith_cloud_init.n2"].Primary.Attributes["user_data"]
				p, err := cloudinit.Parse([]byte(ud))
				if err != nil {
					return fmt.Errorf("user data does not parse: %v\n%s", err, ud)
				}
				if p.AgentSHA256 != sum || !strings.Contains(p.AgentConfig, "node-id: shop-n2") || !strings.Contains(p.AgentConfig, "bootstrap-expect: 3") {
					return fmt.Errorf("user data: %+v\n%s", p, ud)
				}
				return nil
			},
		),
	}}})
}
