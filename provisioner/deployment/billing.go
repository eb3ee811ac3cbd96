package deployment

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/atomicfile"
	"github.com/aerolithdb/aerolith/internal/pki"
	"github.com/aerolithdb/aerolith/provisioner"
)

// Registration is how a cluster is registered in billing.
type Registration struct {
	// BillingURL is what the nodes enroll with.
	BillingURL string
	// BillingCA, optional, is the PEM bundle the nodes verify billing with.
	BillingCA string
	// Tenants the cluster serves.
	Tenants []string
}

// Register registers rec's cluster in billing for r's tenants (POST
// /api/v1/clusters) and keeps the id and enrollment token it answers in
// rec's spec and sec. A cluster on a cloud with TLS gets its nodes'
// certificates from the cluster's CA in billing, which is fetched into
// the store and named by rec.CAFile.
func Register(ctx context.Context, bc *billingclient.Client, store Store, r Registration, rec *Record, sec *Secrets) error {
	e, err := bc.RegisterCluster(ctx, "", r.Tenants)
	if err != nil {
		return fmt.Errorf("register %s in billing: %w", rec.Spec.Name, err)
	}
	rec.Spec.Managed = &provisioner.Managed{BillingURL: r.BillingURL, ClusterID: e.ClusterID, EnrollmentToken: e.EnrollmentToken, BillingCA: r.BillingCA}
	rec.Tenants = r.Tenants
	sec.EnrollmentToken = e.EnrollmentToken
	if rec.Spec.Cloud != provisioner.Local && !rec.InsecureHTTP {
		return FetchClusterCA(ctx, bc, store, rec)
	}
	return nil
}

// FetchClusterCA keeps the CA of a managed cluster's node certificates
// (from billing) in the cluster's files and points rec.CAFile at it.
func FetchClusterCA(ctx context.Context, bc *billingclient.Client, store Store, rec *Record) error {
	pem, err := bc.ClusterCA(ctx, rec.Spec.Managed.ClusterID)
	if err != nil {
		return fmt.Errorf("the CA of cluster %s from billing: %w", rec.Spec.Name, err)
	}
	dir := filepath.Join(store.FilesDir(rec.Spec.Name), "pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	rec.CAFile = filepath.Join(dir, pki.CACertFile)
	return atomicfile.Write(rec.CAFile, pem, 0o644)
}
