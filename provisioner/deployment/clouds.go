package deployment

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aerolithdb/aerolith/provisioner"
	awsdrv "github.com/aerolithdb/aerolith/provisioner/aws"
	azuredrv "github.com/aerolithdb/aerolith/provisioner/azure"
	gcpdrv "github.com/aerolithdb/aerolith/provisioner/gcp"
)

// cloud is what a deployment needs of one cloud besides the local one:
// its driver and how unmanaged nodes discover each other by tag. Adding a
// cloud is one entry here (the CLI and the Terraform provider both follow).
type cloud struct {
	driver   func(ctx context.Context, rec *Record) (provisioner.Driver, error)
	discover func(rec *Record) string
}

var clouds = map[provisioner.Cloud]cloud{
	provisioner.Azure: {
		driver: func(ctx context.Context, rec *Record) (provisioner.Driver, error) {
			if rec.Azure == nil {
				return nil, errors.New("the cluster's record has no Azure subscription (made by an older version?); recreate it")
			}
			cfg := azuredrv.Config{SubscriptionID: rec.Azure.Subscription, Location: rec.Spec.Region, ResourceGroup: rec.Azure.ResourceGroup, Endpoint: rec.Endpoint}
			if rec.Endpoint != "" {
				// A simulator finishes its operations in milliseconds:
				// poll at the SDK's floor.
				cfg.PollFrequency = time.Second
			}
			return azuredrv.New(cfg)
		},
		discover: func(rec *Record) string {
			// The VMs of the cluster's resource group carrying its tag.
			rg := rec.Azure.ResourceGroup
			if rg == "" {
				rg = "aerolith-" + rec.Spec.Name
			}
			d := fmt.Sprintf("provider=azure subscription_id=%s resource_group=%s tag_key=%s tag_value=%s", rec.Azure.Subscription, rg, provisioner.TagCluster, rec.Spec.Name)
			if rec.Endpoint != "" {
				d += " endpoint=" + rec.Endpoint
			}
			return d
		},
	},
	provisioner.GCP: {
		driver: func(ctx context.Context, rec *Record) (provisioner.Driver, error) {
			return gcpdrv.New(ctx, gcpdrv.Config{Project: rec.Project, Endpoint: rec.Endpoint})
		},
		discover: func(rec *Record) string {
			d := fmt.Sprintf("provider=gcp project=%s zone=%s label_key=%s label_value=%s", rec.Project, rec.Spec.Zone, provisioner.TagCluster, rec.Spec.Name)
			if rec.Endpoint != "" {
				d += " endpoint=" + rec.Endpoint
			}
			return d
		},
	},
	provisioner.AWS: {
		driver: func(ctx context.Context, rec *Record) (provisioner.Driver, error) {
			return awsdrv.New(ctx, awsdrv.Config{Region: rec.Spec.Region, Endpoint: rec.Endpoint})
		},
		discover: func(rec *Record) string {
			d := fmt.Sprintf("provider=aws region=%s tag_key=%s tag_value=%s", rec.Spec.Region, provisioner.TagCluster, rec.Spec.Name)
			if rec.Endpoint != "" {
				d += " endpoint=" + rec.Endpoint
			}
			return d
		},
	},
}

// Discover is the --discover value unmanaged nodes of rec's cluster find
// each other with (by tags or labels through their cloud's API), "" for
// the local cloud. The Pulumi stacks boot their nodes with it too.
func Discover(rec *Record) string {
	c, ok := clouds[rec.Spec.Cloud]
	if !ok {
		return ""
	}
	return c.discover(rec)
}

// Supported reports whether deployments can drive clusters on c.
func Supported(c provisioner.Cloud) bool {
	_, ok := clouds[c]
	return ok || c == provisioner.Local
}

// SupportedClouds lists the clouds Supported accepts, in the spec's order,
// for messages.
func SupportedClouds() []provisioner.Cloud {
	var out []provisioner.Cloud
	for _, c := range provisioner.Clouds {
		if Supported(c) {
			out = append(out, c)
		}
	}
	return out
}

// UnsupportedCloudError is a cloud whose driver is not built yet.
type UnsupportedCloudError struct{ Cloud provisioner.Cloud }

func (e UnsupportedCloudError) Error() string {
	var names []string
	for _, c := range SupportedClouds() {
		names = append(names, string(c))
	}
	return fmt.Sprintf("cloud %s: its driver is not built yet; clusters can be made on %s", e.Cloud, strings.Join(names, ", "))
}
