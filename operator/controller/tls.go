package controller

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
)

// TLS of a cluster, seen from the operator: the nodes' CA is published in
// the ConfigMap <name>-ca (key ca.crt) for clients, and the operator's own
// calls to the nodes verify them with it. In mode Secret it is ca.crt of
// the user's Secret, which must be complete before any pod is made; in
// mode Enrollment it is billing's CA of the cluster (GET
// /api/v1/clusters/{id}/ca), which signs the certificates the nodes
// obtain with the enrollment token.

// CACertKey is the key of the CA ConfigMap (and of a TLS Secret) holding
// the CA bundle.
const CACertKey = "ca.crt"

// The keys of a mode Secret TLS Secret (kubernetes.io/tls plus ca.crt, as
// cert-manager writes it).
var tlsSecretKeys = []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey, CACertKey}

// CAConfigMapName names the ConfigMap holding cluster ac's CA bundle.
func CAConfigMapName(ac *aerov1.AerolithCluster) string { return ac.Name + "-ca" }

// errTLSSecret marks a TLS Secret (mode Secret) that is missing or
// incomplete: no pod is made or changed until it is fixed.
var errTLSSecret = errors.New("tls secret")

// caCache keeps billing's CA of each cluster id: billing never replaces
// a cluster's CA, so one fetch per operator process is enough.
var caCache sync.Map // cluster id → []byte PEM

// checkTLSSecret verifies a mode Secret cluster's Secret: it exists, holds
// tls.crt, tls.key and ca.crt, the certificate and key match, and the
// certificate chains to ca.crt.
func (r *Reconciler) checkTLSSecret(ctx context.Context, ac *aerov1.AerolithCluster) error {
	name := ac.Spec.TLS.SecretName
	var s corev1.Secret
	err := r.cfg.Client.Get(ctx, types.NamespacedName{Namespace: ac.Namespace, Name: name}, &s)
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%w %s/%s not found: create it with tls.crt, tls.key and ca.crt (e.g. a cert-manager Certificate's secretName); the pods wait for it", errTLSSecret, ac.Namespace, name)
	}
	if err != nil {
		return err
	}
	for _, k := range tlsSecretKeys {
		if len(s.Data[k]) == 0 {
			return fmt.Errorf("%w %s/%s has no key %q (it needs tls.crt, tls.key and ca.crt)", errTLSSecret, ac.Namespace, name, k)
		}
	}
	pair, err := tls.X509KeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return fmt.Errorf("%w %s/%s: tls.crt and tls.key: %w", errTLSSecret, ac.Namespace, name, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.Data[CACertKey]) {
		return fmt.Errorf("%w %s/%s: ca.crt holds no PEM certificate", errTLSSecret, ac.Namespace, name)
	}
	leaf := pair.Leaf
	inter := x509.NewCertPool()
	for _, der := range pair.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("%w %s/%s: tls.crt does not verify against ca.crt: %w", errTLSSecret, ac.Namespace, name, err)
	}
	return nil
}

// clusterCAPEM is the CA bundle ac's nodes' certificates chain to: ca.crt
// of the TLS Secret, or billing's CA of the cluster.
func (r *Reconciler) clusterCAPEM(ctx context.Context, ac *aerov1.AerolithCluster) ([]byte, error) {
	if tlsMode(ac) == aerov1.TLSSecret {
		v, err := r.secretValue(ctx, ac.Namespace, ac.Spec.TLS.SecretName, CACertKey)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errTLSSecret, err)
		}
		return []byte(v), nil
	}
	id := ac.Status.ClusterID
	if id == "" {
		return nil, fmt.Errorf("%w: cluster CA: not registered yet", errBilling)
	}
	if v, ok := caCache.Load(id); ok {
		return v.([]byte), nil
	}
	bc, err := r.billingClient(ctx, ac)
	if err != nil {
		return nil, err
	}
	pemCA, err := bc.ClusterCA(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("%w: cluster CA of %s: %w", errBilling, id, err)
	}
	if b, _ := pem.Decode(pemCA); b == nil {
		return nil, fmt.Errorf("%w: cluster CA of %s: no PEM certificate in billing's answer", errBilling, id)
	}
	caCache.Store(id, pemCA)
	return pemCA, nil
}

// ensureTLS checks a mode Secret cluster's Secret and publishes the
// nodes' CA in the <name>-ca ConfigMap. A bad Secret is an error (the
// cluster waits, Degraded); billing's CA not served yet is not (a node's
// first certificate request creates it; the next pass publishes it).
func (r *Reconciler) ensureTLS(ctx context.Context, ac *aerov1.AerolithCluster) error {
	switch tlsMode(ac) {
	case aerov1.TLSDisabled:
		return nil
	case aerov1.TLSSecret:
		if err := r.checkTLSSecret(ctx, ac); err != nil {
			if c := apimeta.FindStatusCondition(ac.Status.Conditions, aerov1.ConditionDegraded); c == nil || c.Message != err.Error() {
				r.event(ac, corev1.EventTypeWarning, "TLSSecretInvalid", "%v", err)
			}
			return err
		}
	}
	pemCA, err := r.clusterCAPEM(ctx, ac)
	if err != nil {
		r.log.Warn("cluster CA not published yet", "cluster", ac.Namespace+"/"+ac.Name, "error", err)
		return nil
	}
	cm := &corev1.ConfigMap{ObjectMeta: meta(ac, CAConfigMapName(ac))}
	op, err := controllerutil.CreateOrUpdate(ctx, r.cfg.Client, cm, func() error {
		cm.Labels = Labels(ac)
		cm.Data = map[string]string{CACertKey: string(pemCA)}
		return controllerutil.SetControllerReference(ac, cm, r.cfg.Scheme)
	})
	if err != nil {
		return fmt.Errorf("publish cluster CA: %w", err)
	}
	if op != controllerutil.OperationResultNone {
		r.log.Info("cluster CA published", "cluster", ac.Namespace+"/"+ac.Name, "configmap", cm.Name, "op", op)
		r.event(ac, corev1.EventTypeNormal, "CAPublished", "the nodes' CA is in ConfigMap %s (key %s)", cm.Name, CACertKey)
	}
	return nil
}

// billingHTTPClient is the HTTP client of ac's billing calls: the
// configured one, else one verifying billing with spec.billing.caSecret,
// else nil (the system roots).
func (r *Reconciler) billingHTTPClient(ctx context.Context, ac *aerov1.AerolithCluster) (*http.Client, error) {
	ref := ac.Spec.Billing.CASecret
	if r.cfg.BillingHTTPClient != nil || ref == nil {
		return r.cfg.BillingHTTPClient, nil
	}
	v, err := r.secretValue(ctx, ac.Namespace, ref.Name, ref.Key)
	if err != nil {
		return nil, fmt.Errorf("billing ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(v)) {
		return nil, fmt.Errorf("billing ca: secret %s/%s key %q holds no PEM certificate", ac.Namespace, ref.Name, ref.Key)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}, nil
}

// clustersReferencing maps a Secret to the clusters of its namespace that
// read it without owning it (the TLS Secret, billing's credentials and
// CA), so a Secret created or fixed later moves them on at once.
func (r *Reconciler) clustersReferencing(ctx context.Context, o client.Object) []reconcile.Request {
	var list aerov1.AerolithClusterList
	if err := r.cfg.Client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		r.log.Warn("list clusters for a secret", "secret", o.GetNamespace()+"/"+o.GetName(), "error", err)
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		ac := &list.Items[i]
		refs := []string{ac.Spec.Billing.CredentialsSecret.Name}
		if ac.Spec.Billing.CASecret != nil {
			refs = append(refs, ac.Spec.Billing.CASecret.Name)
		}
		if ac.Spec.TLS != nil && ac.Spec.TLS.Mode == aerov1.TLSSecret {
			refs = append(refs, ac.Spec.TLS.SecretName)
		}
		for _, n := range refs {
			if n == o.GetName() {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(ac)})
				break
			}
		}
	}
	return out
}
