package provider

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// TestAccCreateCrashLoop: a managed cluster whose provider reaches
// billing over plain http gives its agents (serving TLS) a billing URL
// they refuse at start, so they crash-loop; apply fails once a node's
// agent has been restarted deployment.CrashLoopRestarts (3) times in a
// row, naming the node and the agent's own error, rather than when the
// create timeout (20m) ends.
func TestAccCreateCrashLoop(t *testing.T) {
	accPreCheck(t)
	state := stateDir(t)
	ctx := context.Background()
	bill, err := proctest.StartBilling(ctx, proctest.BillingConfig{Binary: binary, Dir: filepath.Join(t.TempDir(), "billing")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bill.Stop)
	admin, err := bill.Admin()
	if err != nil {
		t.Fatal(err)
	}
	ten, err := admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "Org", Name: "crashy", Tier: "starter", Email: "crashy@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	url, sum := agentArtifact(t)
	cfg := fmt.Sprintf(`
provider "aerolith" {
  billing_url = %q
  billing_key = %q
  state_dir   = %q
}

resource "aerolith_cluster" "c" {
  name         = "tf-crashy"
  cloud        = "local"
  node_count   = 1
  agent_url    = %q
  agent_sha256 = %q
  tenant_ids   = [%q]
}
`, bill.URL(), bill.AdminKey(), state, url, sum, ten.ID)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		Steps: []resource.TestStep{{
			Config: cfg,
			// Terraform wraps the message: any space may be a newline.
			ExpectError: regexp.MustCompile(strings.ReplaceAll(`(?s)node tf-crashy-n1 keeps crashing \(exited 3 times in a row.*billing-url:.*is plain http.*`+
				`aerolith cluster destroy tf-crashy`, " ", `\s+`)),
		}},
	})
}
