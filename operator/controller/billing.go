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
	hc, err := r.billingHTTPClient(ctx, ac)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBilling, err)
	}
	cfg := billingclient.Config{URL: ac.Spec.Billing.URL, Key: key, UserAgent: "aerolith-operator", HTTPClient: hc}
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
	key := types.NamespacedName{Namespace: ac.Namespace, Name: EnrollmentSecretName(ac)}
	err = r.cfg.Client.Get(ctx, key, &sec)
	if (apierrors.IsNotFound(err) || err == nil && len(sec.Data[EnrollmentTokenKey]) == 0) && r.apiReader != nil {
		// The cache may lag behind a Secret written a moment ago: only
		// the API server's answer may make billing issue a token.
		sec = corev1.Secret{}
		err = r.apiReader.Get(ctx, key, &sec)
	}
	switch {
	case err == nil && len(sec.Data[EnrollmentTokenKey]) > 0:
		id := string(sec.Data[ClusterIDKey])
		if id == "" {
			id = ac.Status.ClusterID
		}
		return id, r.ensureTenants(ctx, ac, bc, id)
	case err != nil && !apierrors.IsNotFound(err):
		return "", err
	}
	exists := err == nil
	// Registered before (the id is in the Secret or the status) but the
	// token is gone: billing issues the same cluster a new one, so the
	// cluster never gets a second id.
	id := string(sec.Data[ClusterIDKey])
	if id == "" {
		id = ac.Status.ClusterID
	}
	if id != "" {
		enr, err := bc.IssueEnrollmentToken(ctx, id, false)
		switch {
		case err == nil:
			if err := r.storeEnrollment(ctx, ac, &sec, exists, enr); err != nil {
				return "", err
			}
			r.log.Warn("enrollment token lost; billing issued a new one for the same cluster", "cluster", ac.Namespace+"/"+ac.Name, "cluster_id", id)
			r.event(ac, corev1.EventTypeWarning, "EnrollmentTokenReissued",
				"the enrollment Secret %s lost its token; billing issued a new token for cluster %s (the previous one keeps working for the running nodes)", EnrollmentSecretName(ac), id)
			return id, r.ensureTenants(ctx, ac, bc, id)
		case billingclient.IsNotFound(err) || billingclient.IsConflict(err):
			// Billing does not know it, or it was deregistered: register
			// below (a deregistered id is replaced).
		default:
			return "", fmt.Errorf("%w: new enrollment token for cluster %s: %w", errBilling, id, err)
		}
	} else {
		id = baseClusterID(ac)
	}
	enr, err := bc.RegisterCluster(ctx, id, servedTenants(ac))
	if billingclient.IsConflict(err) {
		// Registered before and deregistered since (or its registration
		// is another's): register under a fresh id.
		if derr := bc.DeregisterCluster(ctx, id); derr != nil && !billingclient.IsNotFound(derr) {
			return "", fmt.Errorf("%w: deregister orphaned cluster %s: %w", errBilling, id, derr)
		}
		r.log.Warn("cluster id unusable in billing; registering under a new id", "cluster", ac.Namespace+"/"+ac.Name, "old_id", id)
		var b [4]byte
		_, _ = rand.Read(b[:])
		id = baseClusterID(ac) + "-" + hex.EncodeToString(b[:])
		enr, err = bc.RegisterCluster(ctx, id, servedTenants(ac))
	}
	if err != nil {
		return "", fmt.Errorf("%w: register cluster %s: %w", errBilling, id, err)
	}
	ac.Status.ClusterID = enr.ClusterID
	if err := r.storeEnrollment(ctx, ac, &sec, exists, enr); err != nil {
		return "", err
	}
	r.log.Info("registered with billing", "cluster", ac.Namespace+"/"+ac.Name, "cluster_id", enr.ClusterID, "tenants", servedTenants(ac))
	r.event(ac, corev1.EventTypeNormal, "Registered", "registered with billing as %s for tenants %v", enr.ClusterID, servedTenants(ac))
	return enr.ClusterID, nil
}

// storeEnrollment writes enr's token and cluster id into the enrollment
// Secret (sec, read before; exists says whether it is there).
func (r *Reconciler) storeEnrollment(ctx context.Context, ac *aerov1.AerolithCluster, sec *corev1.Secret, exists bool, enr billingclient.Enrollment) error {
	if !exists {
		*sec = corev1.Secret{ObjectMeta: meta(ac, EnrollmentSecretName(ac))}
	}
	if sec.Data == nil {
		sec.Data = map[string][]byte{}
	}
	sec.Data[EnrollmentTokenKey] = []byte(enr.EnrollmentToken)
	sec.Data[ClusterIDKey] = []byte(enr.ClusterID)
	sec.Data[BillingURLKey] = []byte(ac.Spec.Billing.URL)
	if err := controllerutil.SetControllerReference(ac, sec, r.cfg.Scheme); err != nil {
		return err
	}
	var err error
	if exists {
		err = r.cfg.Client.Update(ctx, sec)
	} else {
		err = r.cfg.Client.Create(ctx, sec)
	}
	if err != nil {
		return fmt.Errorf("store enrollment token of %s: %w", enr.ClusterID, err)
	}
	return nil
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
