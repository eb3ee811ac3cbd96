package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/aerolithdb/aerolith/provisioner/cloudsim"
)

const (
	simGCPProject        = "acme-prod-1"
	simAzureSubscription = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
)

// gcpCloud: the driver finds a service account key file as application
// default credentials (GOOGLE_APPLICATION_CREDENTIALS) whose token_uri is
// the simulator, signs a JWT and trades it there for a bearer token.
var gcpCloud = simCloud{
	cloud: "gcp",
	credentials: func(t *testing.T, simURL string) {
		key, err := cloudsim.GCEServiceAccountKey(simURL, simGCPProject)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "sa.json")
		if err := os.WriteFile(path, key, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
	},
	block: func(simURL string) string {
		return fmt.Sprintf("  gcp {\n    project  = %q\n    zone     = \"europe-west1-c\"\n    endpoint = %q\n  }", simGCPProject, simURL)
	},
	cluster: "region = \"europe-west1\"\n  allowed_cidrs = [\"127.0.0.0/8\"]",
	checks: []resource.TestCheckFunc{
		resource.TestCheckResourceAttr("aerolith_cluster.c", "region", "europe-west1"),
		resource.TestCheckResourceAttr("aerolith_cluster.c", "zone", "europe-west1-c"),
		resource.TestCheckResourceAttr("aerolith_cluster.c", "instance_type", "e2-standard-2"),
		resource.TestCheckResourceAttrSet("aerolith_cluster.c", "nodes.0.instance_id"),
	},
	immutable: `instance_type = "n2-highmem-4"`,
	refusal:   `instance_type of cluster tf-gcp cannot change`,
}

// azureCloud: azidentity's managed identity (the App Service shape of
// IDENTITY_ENDPOINT and IDENTITY_HEADER) is the simulator's token
// endpoint; the chain's other sources are switched off.
var azureCloud = simCloud{
	cloud: "azure",
	credentials: func(t *testing.T, simURL string) {
		t.Setenv("IDENTITY_ENDPOINT", simURL+cloudsim.MSITokenPath)
		t.Setenv("IDENTITY_HEADER", "sim-identity-header")
		for _, k := range []string{"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "MSI_ENDPOINT", "AZURE_SUBSCRIPTION_ID"} {
			t.Setenv(k, "") // restored after the test
			os.Unsetenv(k)
		}
	},
	block: func(simURL string) string {
		return fmt.Sprintf("  azure {\n    subscription_id = %q\n    location        = \"westeurope\"\n    endpoint        = %q\n  }", simAzureSubscription, simURL)
	},
	cluster: `allowed_cidrs = ["127.0.0.0/8"]`,
	checks: []resource.TestCheckFunc{
		resource.TestCheckResourceAttr("aerolith_cluster.c", "region", "westeurope"),
		resource.TestCheckResourceAttr("aerolith_cluster.c", "instance_type", "Standard_D2s_v5"),
		resource.TestCheckResourceAttrSet("aerolith_cluster.c", "nodes.0.instance_id"),
	},
	immutable: `instance_type = "Standard_D4s_v5"`,
	refusal:   `instance_type of cluster tf-azure cannot change`,
}

// TestAccClusterGCPSimulator: testAccClusterSimulator on the simulated GCE.
func TestAccClusterGCPSimulator(t *testing.T) { testAccClusterSimulator(t, gcpCloud) }

// TestAccClusterAzureSimulator: testAccClusterSimulator on the simulated
// ARM (Azure Resource Manager).
func TestAccClusterAzureSimulator(t *testing.T) { testAccClusterSimulator(t, azureCloud) }
