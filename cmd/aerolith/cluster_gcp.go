package main

import (
	"context"
	"errors"
	"os"
	"strings"

	gcpdrv "github.com/aerolithdb/aerolith/provisioner/gcp"
)

// resolveGCP fills a gcp create's project, zone and region from the
// flags, else from the environment variables Google's tools read
// (GOOGLE_CLOUD_PROJECT or CLOUDSDK_CORE_PROJECT, else the application
// default credentials' project; CLOUDSDK_COMPUTE_ZONE,
// CLOUDSDK_COMPUTE_REGION); the region defaults to the zone's.
func resolveGCP(ctx context.Context, o *createOptions) error {
	if o.project == "" {
		o.project = gcpdrv.DefaultProject(ctx)
	}
	if o.project == "" {
		return usageError{errors.New("--project: the GCP project is required (or GOOGLE_CLOUD_PROJECT / CLOUDSDK_CORE_PROJECT, or the project of the application default credentials)")}
	}
	spec := &o.spec
	if spec.Zone == "" {
		spec.Zone = os.Getenv("CLOUDSDK_COMPUTE_ZONE")
	}
	if spec.Region == "" {
		spec.Region = os.Getenv("CLOUDSDK_COMPUTE_REGION")
	}
	if spec.Zone == "" && spec.Region == "" {
		return usageError{errors.New("--zone: the GCE zone is required (or CLOUDSDK_COMPUTE_ZONE), e.g. europe-west1-b")}
	}
	if spec.Region == "" {
		if i := strings.LastIndexByte(spec.Zone, '-'); i > 0 {
			spec.Region = spec.Zone[:i]
		}
	}
	return nil
}
