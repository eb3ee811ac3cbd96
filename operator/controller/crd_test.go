package controller_test

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
)

// crdClient is a client of the shared API server and a namespace, with
// no operator: the CRD's own validation and defaulting are under test.
func crdClient(t *testing.T, ns string) (client.Client, string) {
	t.Helper()
	if restCfg == nil {
		t.Skip(skipMsg)
	}
	c, err := client.New(restCfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ns = uniqueName(ns)
	if err := c.Create(context.Background(), namespace(ns)); err != nil {
		t.Fatal(err)
	}
	return c, ns
}

func valid(ns, name string) *aerov1.AerolithCluster {
	return &aerov1.AerolithCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: aerov1.AerolithClusterSpec{
			Nodes: 3, TenantID: "ten_1",
			Billing: aerov1.BillingRef{URL: "https://billing.example:7080", CredentialsSecret: aerov1.SecretKeyRef{Name: "billing"}},
		},
	}
}

func TestCRDRejectsInvalidObjects(t *testing.T) {
	c, ns := crdClient(t, "crd-invalid")
	tests := []struct {
		name   string
		mutate func(*aerov1.AerolithCluster)
		want   string // in the API server's message
	}{
		{"even node count", func(a *aerov1.AerolithCluster) { a.Spec.Nodes = 4 }, "nodes must be odd"},
		{"node count above range", func(a *aerov1.AerolithCluster) { a.Spec.Nodes = 11 }, "spec.nodes"},
		{"zero nodes", func(a *aerov1.AerolithCluster) { a.Spec.Nodes = 0 }, "spec.nodes"},
		{"unknown tier", func(a *aerov1.AerolithCluster) { a.Spec.SubscriptionTier = "gold" }, "spec.subscriptionTier"},
		{"missing tenant", func(a *aerov1.AerolithCluster) { a.Spec.TenantID = "" }, "spec.tenantId"},
		{"billing url without scheme", func(a *aerov1.AerolithCluster) { a.Spec.Billing.URL = "billing:7080" }, "spec.billing.url"},
		{"tls secret mode without secret", func(a *aerov1.AerolithCluster) { a.Spec.TLS = &aerov1.TLSSpec{Mode: aerov1.TLSSecret} }, "tls.secretName is required"},
		{"unknown tls mode", func(a *aerov1.AerolithCluster) { a.Spec.TLS = &aerov1.TLSSpec{Mode: "Maybe"} }, "spec.tls.mode"},
		{"bad cidr", func(a *aerov1.AerolithCluster) { a.Spec.AllowedCIDRs = []string{"10.0.0.0/33"} }, "must be CIDRs"},
		{"bad version", func(a *aerov1.AerolithCluster) { a.Spec.Version = "latest" }, "spec.version"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := valid(ns, "bad-"+string(rune('a'+i)))
			tt.mutate(a)
			err := c.Create(context.Background(), a)
			if err == nil {
				t.Fatalf("Create(%s) = nil, want an error naming %q", tt.name, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Create(%s) = %v, want it to name %q", tt.name, err, tt.want)
			}
		})
	}
}

func TestCRDDefaultsAndImmutableFields(t *testing.T) {
	ctx := context.Background()
	c, ns := crdClient(t, "crd-immutable")
	a := valid(ns, "c1")
	a.Spec.StorageClassName = ptr.To("fast")
	if err := c.Create(ctx, a); err != nil {
		t.Fatalf("Create(valid) = %v", err)
	}
	if a.Spec.SubscriptionTier != aerov1.TierStarter || a.Spec.Storage == nil || a.Spec.Storage.String() != "10Gi" ||
		a.Spec.Version == "" || a.Spec.TLS == nil || a.Spec.TLS.Mode != aerov1.TLSEnrollment || a.Spec.VolumeReclaimPolicy != aerov1.ReclaimRetain {
		t.Fatalf("defaults = tier %q storage %v version %q tls %+v reclaim %q, want starter, 10Gi, a version, Enrollment, Retain",
			a.Spec.SubscriptionTier, a.Spec.Storage, a.Spec.Version, a.Spec.TLS, a.Spec.VolumeReclaimPolicy)
	}
	tests := []struct {
		name   string
		mutate func(*aerov1.AerolithCluster)
		want   string
	}{
		{"tenant", func(a *aerov1.AerolithCluster) { a.Spec.TenantID = "ten_2" }, "tenantId is immutable"},
		{"storage", func(a *aerov1.AerolithCluster) { q := resource.MustParse("20Gi"); a.Spec.Storage = &q }, "storage is immutable"},
		{"storage class", func(a *aerov1.AerolithCluster) { a.Spec.StorageClassName = ptr.To("slow") }, "storageClassName is immutable"},
		{"storage class removed", func(a *aerov1.AerolithCluster) { a.Spec.StorageClassName = nil }, "storageClassName is immutable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cur aerov1.AerolithCluster
			if err := c.Get(ctx, client.ObjectKeyFromObject(a), &cur); err != nil {
				t.Fatal(err)
			}
			tt.mutate(&cur)
			err := c.Update(ctx, &cur)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Update(change %s) = %v, want an error naming %q", tt.name, err, tt.want)
			}
		})
	}
	// Fields that may change do.
	var cur aerov1.AerolithCluster
	if err := c.Get(ctx, client.ObjectKeyFromObject(a), &cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.Nodes, cur.Spec.SubscriptionTier = 5, aerov1.TierEnterprise
	if err := c.Update(ctx, &cur); err != nil {
		t.Fatalf("Update(nodes 5, tier enterprise) = %v, want success", err)
	}
}
