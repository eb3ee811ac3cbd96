package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/aerolithdb/aerolith/provisioner/cloudsim/cloudsimtest"
)

// gcpCloud: the driver trades a service account key for a token at the
// simulator (cloudsimtest.SetCredentials).
var gcpCloud = simCloud{
	cloud: "gcp",
	block: func(simURL string) string {
		return fmt.Sprintf("  gcp {\n    project  = %q\n    zone     = \"europe-west1-c\"\n    endpoint = %q\n  }", cloudsimtest.GCPProject, simURL)
	},
	cluster: "region = \"europe-west1\"\n  allowed_cidrs = [\"127.0.0.0/8\"]",
	checks: []resource.TestCheckFunc{
		resource.TestCheckResourceAttr("aerolith_cluster.c", "region", "europe-west1"),
		resource.TestCheckResourceAttr("aerolith_cluster.c", "zone", "europe-west1-c"),
		resource.TestCheckNoResourceAttr("aerolith_cluster.c", "resource_group"),
		resource.TestCheckResourceAttr("aerolith_cluster.c", "instance_type", "e2-standard-2"),
		resource.TestCheckResourceAttrSet("aerolith_cluster.c", "nodes.0.instance_id"),
	},
	immutable: `instance_type = "n2-highmem-4"`,
	refusal:   `instance_type of cluster tf-gcp cannot change`,
}

// azureCloud: the driver's managed identity gets its token from the
// simulator (cloudsimtest.SetCredentials).
var azureCloud = simCloud{
	cloud: "azure",
	block: func(simURL string) string {
		return fmt.Sprintf("  azure {\n    subscription_id = %q\n    location        = \"westeurope\"\n    endpoint        = %q\n  }", cloudsimtest.AzureSubscription, simURL)
	},
	cluster: `allowed_cidrs = ["127.0.0.0/8"]`,
	checks: []resource.TestCheckFunc{
		resource.TestCheckResourceAttr("aerolith_cluster.c", "region", "westeurope"),
		// No resource_group anywhere: a group of the cluster's own.
		resource.TestCheckResourceAttr("aerolith_cluster.c", "resource_group", "aerolith-tf-azure"),
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
