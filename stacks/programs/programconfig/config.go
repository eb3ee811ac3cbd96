// Package programconfig reads the configuration every cloud program of
// stacks/programs shares (the `aerolith:` namespace) into the
// aerolith:index:Cluster component's Args: config.Require for what has
// no default, config.RequireSecret for the admin key, and the enrollment
// token kept a secret.
package programconfig

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/stacks/cluster"
)

// Load reads the cluster on cloud from the stack's configuration. region
// is the cloud's own setting (aws:region, gcp:zone, azure-native:location).
func Load(ctx *pulumi.Context, cloud provisioner.Cloud) (*cluster.Args, error) {
	c := config.New(ctx, "aerolith")
	spec := provisioner.ClusterSpec{
		Name:         c.Require("clusterName"),
		Cloud:        cloud,
		Nodes:        c.RequireInt("nodes"),
		InstanceType: c.Require("instanceType"),
		DiskGB:       c.RequireInt("diskGb"),
		Image:        c.Get("image"),
		Agent:        provisioner.Artifact{URL: c.Require("agentUrl"), SHA256: c.Require("agentSha256")},
		Zone:         c.Get("zone"),
	}
	switch cloud {
	case provisioner.AWS:
		spec.Region = config.Require(ctx, "aws:region")
	case provisioner.GCP:
		spec.Zone = config.Require(ctx, "gcp:zone")
		spec.Region = regionOfZone(spec.Zone)
	case provisioner.Azure:
		spec.Region = config.Require(ctx, "azure-native:location")
	default:
		return nil, fmt.Errorf("cloud %s has no program", cloud)
	}
	c.RequireObject("allowedCidrs", &spec.AllowedCIDRs)
	_ = c.TryObject("tags", &spec.Tags)
	args := &cluster.Args{Spec: spec, AdminKey: c.RequireSecret("adminKey"), InsecureHTTP: c.GetBool("insecureHttp")}
	if url := c.Get("billingUrl"); url != "" {
		args.Spec.Managed = &provisioner.Managed{BillingURL: url, ClusterID: c.Require("billingClusterId"), BillingCA: c.Get("billingCa")}
		args.EnrollmentToken = c.RequireSecret("enrollmentToken")
	}
	return args, nil
}

// regionOfZone is a GCE zone's region (us-central1-a → us-central1).
func regionOfZone(zone string) string {
	for i := len(zone) - 1; i >= 0; i-- {
		if zone[i] == '-' {
			return zone[:i]
		}
	}
	return zone
}
