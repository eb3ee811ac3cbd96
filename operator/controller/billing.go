package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
)

// errBilling marks a failure of billing or of its credentials: the
// cluster is Degraded until it clears.
var errBilling = errors.New("billing")

// billingClient is a client of ac's billing service with its admin key.
func (r *Reconciler) billingClient(ctx context.Context, ac *aerov1.AerolithCluster) (*billingclient.Client, error) {
	ref := ac.Spec.Billing.CredentialsSecret
	key, err := r.secretValue(ctx, ac.Namespace, ref.Name, ref.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: credentials: %w", errBilling, err)
	}
	cfg := billingclient.Config{URL: ac.Spec.Billing.URL, Key: key, UserAgent: "aerolith-operator", HTTPClient: r.cfg.BillingHTTPClient}
	bc, err := billingclient.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: url: %w", errBilling, err)
	}
	return bc, nil
}

// secretValue is one key of a Secret.
func (r *Reconciler) secretValue(ctx context.Context, ns, name, key string) (string, error) {
	if key == "" {
		key = "key"
	}
	var s corev1.Secret
	if err := r.cfg.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
		return "", fmt.Errorf("secret %s/%s: %w", ns, name, err)
	}
	v, ok := s.Data[key]
	if !ok || len(v) == 0 {
		return "", fmt.Errorf("secret %s/%s has no key %q", ns, name, key)
	}
	return string(v), nil
}

// servedTenants are the billing tenants cluster ac serves, sorted.
func servedTenants(ac *aerov1.AerolithCluster) []string {
	out := append([]string{ac.Spec.TenantID}, ac.Spec.Tenants...)
	slices.Sort(out)
	return slices.Compact(out)
}

// baseClusterID is ac's cluster id in billing: unique per object (its
// uid), readable (its namespace and name).
func baseClusterID(ac *aerov1.AerolithCluster) string {
	id := "k8s-" + ac.Namespace + "-" + ac.Name + "-" + string(ac.UID)[:8]
	if len(id) > 100 {
		id = id[:100]
	}
	return id
}

// ensureEnrollment makes billing serve ac: the tenant's tier, the cluster
// registered for its tenants, and the enrollment Secret holding the token
// (shown by billing once). It returns the cluster id.
func (r *Reconciler) ensureEnrollment(ctx context.Context, ac *aerov1.AerolithCluster) (string, error) {
	bc, err := r.billingClient(ctx, ac)
	if err != nil {
		return "", err
	}
	if _, changed, err := bc.ChangeTier(ctx, ac.Spec.TenantID, ac.Spec.SubscriptionTier); err != nil {
		return "", fmt.Errorf("%w: set tier of tenant %s to %s: %w", errBilling, ac.Spec.TenantID, ac.Spec.SubscriptionTier, err)
	} else if changed {
		r.event(ac, corev1.EventTypeNormal, "TierChanged", "tenant %s is now on tier %s", ac.Spec.TenantID, ac.Spec.SubscriptionTier)
	}
	var sec corev1.Secret
	err = r.cfg.Client.Get(ctx, types.NamespacedName{Namespace: ac.Namespace, Name: EnrollmentSecretName(ac)}, &sec)
	switch {
	case err == nil && len(sec.Data[EnrollmentTokenKey]) > 0:
		id := string(sec.Data[ClusterIDKey])
		return id, r.ensureTenants(ctx, ac, bc, id)
	case err != nil && !apierrors.IsNotFound(err):
		return "", err
	}
	id := ac.Status.ClusterID
	if id == "" {
		id = baseClusterID(ac)
	}
	enr, err := bc.RegisterCluster(ctx, id, servedTenants(ac))
	if billingclient.IsConflict(err) {
		// Registered before, but its token never reached the Secret (the
		// operator stopped in between): that registration is useless,
		// so end it and register under a fresh id.
		if derr := bc.DeregisterCluster(ctx, id); derr != nil && !billingclient.IsNotFound(derr) {
			return "", fmt.Errorf("%w: deregister orphaned cluster %s: %w", errBilling, id, derr)
		}
		r.log.Warn("registration without its token deregistered; registering under a new id", "cluster", ac.Namespace+"/"+ac.Name, "old_id", id)
		var b [4]byte
		_, _ = rand.Read(b[:])
		id = baseClusterID(ac) + "-" + hex.EncodeToString(b[:])
		enr, err = bc.RegisterCluster(ctx, id, servedTenants(ac))
	}
	if err != nil {
		return "", fmt.Errorf("%w: register cluster %s: %w", errBilling, id, err)
	}
	ac.Status.ClusterID = enr.ClusterID
	sec = corev1.Secret{ObjectMeta: meta(ac, EnrollmentSecretName(ac)), Data: map[string][]byte{
		EnrollmentTokenKey: []byte(enr.EnrollmentToken),
		ClusterIDKey:       []byte(enr.ClusterID),
		BillingURLKey:      []byte(ac.Spec.Billing.URL),
	}}
	if err := controllerutil.SetControllerReference(ac, &sec, r.cfg.Scheme); err != nil {
		return "", err
	}
	if err := r.cfg.Client.Create(ctx, &sec); err != nil {
		return "", fmt.Errorf("store enrollment token of %s: %w", enr.ClusterID, err)
	}
	r.log.Info("registered with billing", "cluster", ac.Namespace+"/"+ac.Name, "cluster_id", enr.ClusterID, "tenants", servedTenants(ac))
	r.event(ac, corev1.EventTypeNormal, "Registered", "registered with billing as %s for tenants %v", enr.ClusterID, servedTenants(ac))
	return enr.ClusterID, nil
}

// ensureTenants adds the spec's tenants billing does not list for the
// cluster yet. Tenants dropped from the spec are removed later in the
// pass, once the nodes can say whether they still hold data
// (removeDroppedTenants), so the cluster never serves none.
func (r *Reconciler) ensureTenants(ctx context.Context, ac *aerov1.AerolithCluster, bc *billingclient.Client, id string) error {
	cur, err := bc.ListClusterTenants(ctx, id)
	if err != nil {
		return fmt.Errorf("%w: tenants of cluster %s: %w", errBilling, id, err)
	}
	for _, t := range servedTenants(ac) {
		if slices.Contains(cur.Tenants, t) {
			continue
		}
		if _, err := bc.AddClusterTenant(ctx, id, t); err != nil {
			return fmt.Errorf("%w: add tenant %s to cluster %s: %w", errBilling, t, id, err)
		}
		r.event(ac, corev1.EventTypeNormal, "TenantAdded", "cluster %s now serves tenant %s", id, t)
	}
	return nil
}

// deregister ends ac's registration with billing (the finalizer's work).
// A cluster billing does not know is done.
func (r *Reconciler) deregister(ctx context.Context, ac *aerov1.AerolithCluster) error {
	id := ac.Status.ClusterID
	var sec corev1.Secret
	if err := r.cfg.Client.Get(ctx, types.NamespacedName{Namespace: ac.Namespace, Name: EnrollmentSecretName(ac)}, &sec); err == nil && len(sec.Data[ClusterIDKey]) > 0 {
		id = string(sec.Data[ClusterIDKey])
	}
	if id == "" {
		return nil
	}
	bc, err := r.billingClient(ctx, ac)
	if err != nil {
		return err
	}
	if err := bc.DeregisterCluster(ctx, id); err != nil && !billingclient.IsNotFound(err) {
		return fmt.Errorf("%w: deregister cluster %s: %w", errBilling, id, err)
	}
	r.log.Info("deregistered from billing", "cluster", ac.Namespace+"/"+ac.Name, "cluster_id", id)
	r.event(ac, corev1.EventTypeNormal, "Deregistered", "cluster %s deregistered from billing", id)
	return nil
}
