package deployment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
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

// PrepareRegistration chooses the id and enrollment token under which
// rec's cluster is to be registered in billing for r's tenants and keeps
// them in rec's spec and sec, with rec.RegistrationPending set. The caller
// saves rec and sec before Register tells billing: a create killed once
// billing registered the cluster, before it saved billing's answer, then
// registers the same cluster again on its rerun (billing recognises the id
// and token) instead of a second one.
func PrepareRegistration(r Registration, rec *Record, sec *Secrets) error {
	token, err := contract.NewEnrollmentToken()
	if err != nil {
		return err
	}
	id := make([]byte, 10)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	rec.Spec.Managed = &provisioner.Managed{BillingURL: r.BillingURL, ClusterID: "cl_" + hex.EncodeToString(id), EnrollmentToken: token, BillingCA: r.BillingCA}
	rec.Tenants = r.Tenants
	rec.RegistrationPending = true
	sec.EnrollmentToken = token
	return nil
}

// Register registers rec's cluster in billing (POST /api/v1/clusters)
// under the id and token PrepareRegistration chose, which a repeat after
// a crash registers nothing new with, and clears rec.RegistrationPending.
// A cluster on a cloud with TLS gets its nodes' certificates from the
// cluster's CA in billing, which is fetched into the store and named by
// rec.CAFile.
func Register(ctx context.Context, bc *billingclient.Client, store Store, rec *Record, sec *Secrets) error {
	m := rec.Spec.Managed
	e, err := bc.RegisterClusterWithToken(ctx, m.ClusterID, sec.EnrollmentToken, rec.Tenants)
	if err != nil {
		return fmt.Errorf("register %s in billing as %s: %w", rec.Spec.Name, m.ClusterID, err)
	}
	if e.ClusterID != m.ClusterID || e.EnrollmentToken != sec.EnrollmentToken {
		return fmt.Errorf("register %s in billing as %s: billing answered another registration (cluster %s)", rec.Spec.Name, m.ClusterID, e.ClusterID)
	}
	if rec.Spec.Cloud != provisioner.Local && !rec.InsecureHTTP {
		if err := FetchClusterCA(ctx, bc, store, rec); err != nil {
			return err
		}
	}
	rec.RegistrationPending = false
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
