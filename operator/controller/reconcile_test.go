package controller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/testwait"
	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
	"github.com/aerolithdb/aerolith/operator/controller"
)

const waitLimit = 60 * time.Second

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// ownedBy fails unless obj has ac as its controlling owner.
func ownedBy(obj client.Object, ac *aerov1.AerolithCluster) error {
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.UID != ac.UID || ref.Kind != "AerolithCluster" {
		return fmt.Errorf("%T %s: controller reference %+v, want AerolithCluster %s", obj, obj.GetName(), ref, ac.Name)
	}
	return nil
}

func TestClusterYieldsOwnedObjectsAndRegistersWithBilling(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ac := f.cluster("db", 3)
	if err := f.c.Create(ctx, ac); err != nil {
		t.Fatal(err)
	}
	key := func(name string) types.NamespacedName { return types.NamespacedName{Namespace: f.ns, Name: name} }
	var sts appsv1.StatefulSet
	testwait.For(t, waitLimit, "statefulset, services, pdb and secrets with owner references", func() error {
		objs := map[string]client.Object{
			"db": &sts, "db-raft": &corev1.Service{}, "db-admin": &corev1.Secret{}, "db-enrollment": &corev1.Secret{},
		}
		for name, o := range objs {
			if err := f.c.Get(ctx, key(name), o); err != nil {
				return err
			}
			if err := ownedBy(o, ac); err != nil {
				return err
			}
		}
		var svc corev1.Service
		if err := f.c.Get(ctx, key("db"), &svc); err != nil {
			return err
		}
		if err := ownedBy(&svc, ac); err != nil {
			return err
		}
		var pdb policyv1.PodDisruptionBudget
		if err := f.c.Get(ctx, key("db"), &pdb); err != nil {
			return err
		}
		return ownedBy(&pdb, ac)
	})
	if got := *sts.Spec.Replicas; got != 3 {
		t.Errorf("statefulset replicas = %d, want 3", got)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement || sts.Spec.ServiceName != "db-raft" || len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Errorf("statefulset: policy %s service %s claims %d, want Parallel, db-raft, 1", sts.Spec.PodManagementPolicy, sts.Spec.ServiceName, len(sts.Spec.VolumeClaimTemplates))
	}
	ctr := sts.Spec.Template.Spec.Containers[0]
	if ctr.ReadinessProbe == nil || ctr.ReadinessProbe.HTTPGet == nil || ctr.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe = %+v, want GET /readyz", ctr.ReadinessProbe)
	}
	if a := sts.Spec.Template.Spec.Affinity; a == nil || a.PodAntiAffinity == nil {
		t.Errorf("pod template has no anti-affinity")
	}
	var hl corev1.Service
	if err := f.c.Get(ctx, key("db-raft"), &hl); err != nil || hl.Spec.ClusterIP != corev1.ClusterIPNone || !hl.Spec.PublishNotReadyAddresses {
		t.Errorf("headless service = %+v (%v), want clusterIP None publishing not-ready pods", hl.Spec, err)
	}
	var pdb policyv1.PodDisruptionBudget
	if err := f.c.Get(ctx, key("db"), &pdb); err != nil || pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 2 {
		t.Errorf("pdb minAvailable = %v (%v), want 2 (a majority of 3)", pdb.Spec.MinAvailable, err)
	}

	// Billing: the cluster is registered for the tenant, whose tier is the
	// spec's; the token in the Secret authenticates as that cluster.
	testwait.For(t, waitLimit, "status with cluster id and Progressing", func() error {
		if err := f.c.Get(ctx, client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		if ac.Status.ClusterID == "" || ac.Status.ObservedGeneration != ac.Generation {
			return fmt.Errorf("status = %+v", ac.Status)
		}
		if !apimeta.IsStatusConditionTrue(ac.Status.Conditions, aerov1.ConditionProgressing) {
			return fmt.Errorf("conditions = %+v, want Progressing", ac.Status.Conditions)
		}
		return nil
	})
	if ac.Status.Phase != aerov1.PhaseCreating || apimeta.IsStatusConditionTrue(ac.Status.Conditions, aerov1.ConditionReady) {
		t.Errorf("phase %s, conditions %+v: want Creating and not Ready (no pod runs)", ac.Status.Phase, ac.Status.Conditions)
	}
	cl, err := f.admin.GetCluster(ctx, ac.Status.ClusterID)
	if err != nil || len(cl.Tenants) != 1 || cl.Tenants[0] != f.tenant {
		t.Fatalf("billing cluster %s = %+v (%v), want tenant %s", ac.Status.ClusterID, cl, err, f.tenant)
	}
	ten, err := f.admin.GetTenant(ctx, f.tenant)
	if err != nil || ten.Tier != aerov1.TierProfessional {
		t.Fatalf("tenant tier = %q (%v), want professional", ten.Tier, err)
	}
	var enr corev1.Secret
	if err := f.c.Get(ctx, key("db-enrollment"), &enr); err != nil {
		t.Fatal(err)
	}
	tokenClient, err := billingclient.New(billingclient.Config{URL: f.bill.URL(), Key: string(enr.Data[controller.EnrollmentTokenKey]), HTTPClient: f.bill.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	who, err := tokenClient.WhoAmI(ctx)
	if err != nil || who.ClusterID != ac.Status.ClusterID {
		t.Fatalf("whoami with the enrollment token = %+v (%v), want cluster %s", who, err, ac.Status.ClusterID)
	}

	// Changing the tier in the spec changes it in billing.
	f.update(ac, func(a *aerov1.AerolithCluster) { a.Spec.SubscriptionTier = aerov1.TierEnterprise })
	testwait.For(t, waitLimit, "tier enterprise in billing", func() error {
		ten, err := f.admin.GetTenant(ctx, f.tenant)
		if err != nil {
			return err
		}
		if ten.Tier != aerov1.TierEnterprise {
			return fmt.Errorf("tier %s", ten.Tier)
		}
		return nil
	})
}

func TestFinalizerHoldsDeletionUntilBillingDeregisters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ac := f.cluster("db", 1)
	if err := f.c.Create(ctx, ac); err != nil {
		t.Fatal(err)
	}
	var token string
	testwait.For(t, waitLimit, "registered, with the finalizer", func() error {
		if err := f.c.Get(ctx, client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		var enr corev1.Secret
		if err := f.c.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: "db-enrollment"}, &enr); err != nil {
			return err
		}
		token = string(enr.Data[controller.EnrollmentTokenKey])
		if len(ac.Finalizers) == 0 || ac.Status.ClusterID == "" {
			return fmt.Errorf("finalizers %v, cluster id %q", ac.Finalizers, ac.Status.ClusterID)
		}
		return nil
	})
	tokenClient, err := billingclient.New(billingclient.Config{URL: f.bill.URL(), Key: token, HTTPClient: f.bill.HTTPClient(), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	// Billing refuses the operator (a wrong admin key): deletion waits.
	f.setBillingKey("wrong-key")
	if err := f.c.Delete(ctx, ac); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, waitLimit, "a DeregisterFailed event", func() error {
		var evs corev1.EventList
		if err := f.c.List(ctx, &evs, client.InNamespace(f.ns)); err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Reason == "DeregisterFailed" && e.InvolvedObject.UID == ac.UID {
				return nil
			}
		}
		return fmt.Errorf("%d events, none DeregisterFailed", len(evs.Items))
	})
	if err := f.c.Get(ctx, client.ObjectKeyFromObject(ac), ac); err != nil {
		t.Fatalf("cluster gone while billing refused its deregistration: %v", err)
	}
	if ac.DeletionTimestamp == nil || ac.Status.Phase != aerov1.PhaseDeleting {
		t.Fatalf("deletion timestamp %v, phase %s: want set and Deleting", ac.DeletionTimestamp, ac.Status.Phase)
	}
	if _, err := tokenClient.WhoAmI(ctx); err != nil {
		t.Fatalf("enrollment token refused before deregistration: %v", err)
	}
	// With the right key the operator deregisters and lets it go.
	f.setBillingKey(f.bill.AdminKey())
	testwait.For(t, waitLimit, "cluster deleted", func() error {
		err := f.c.Get(ctx, client.ObjectKeyFromObject(ac), &aerov1.AerolithCluster{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
	if _, err := tokenClient.WhoAmI(ctx); !billingclient.IsUnauthenticated(err) {
		t.Fatalf("whoami with the token after deletion = %v, want unauthenticated (deregistered)", err)
	}
}

// TestBillingRefusalDegradesThenRecovers: a cluster whose billing
// credentials are wrong is Degraded (BillingError, an event) and creates
// no pods; once the key is right it registers and makes progress.
func TestBillingRefusalDegradesThenRecovers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.setBillingKey("wrong-key")
	ac := f.cluster("db", 3)
	if err := f.c.Create(ctx, ac); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, waitLimit, "Degraded with BillingError", func() error {
		if err := f.c.Get(ctx, client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		c := apimeta.FindStatusCondition(ac.Status.Conditions, aerov1.ConditionDegraded)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != "BillingError" || ac.Status.Phase != aerov1.PhaseDegraded {
			return fmt.Errorf("phase %s, degraded %+v", ac.Status.Phase, c)
		}
		return nil
	})
	var sts appsv1.StatefulSet
	if err := f.c.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: "db"}, &sts); !apierrors.IsNotFound(err) {
		t.Fatalf("statefulset of an unregistered cluster: %v, want not found", err)
	}
	f.setBillingKey(f.bill.AdminKey())
	testwait.For(t, waitLimit, "registered and Progressing, no longer Degraded", func() error {
		if err := f.c.Get(ctx, client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		if ac.Status.ClusterID == "" || !apimeta.IsStatusConditionTrue(ac.Status.Conditions, aerov1.ConditionProgressing) ||
			apimeta.IsStatusConditionTrue(ac.Status.Conditions, aerov1.ConditionDegraded) {
			return fmt.Errorf("phase %s, cluster id %q, conditions %+v", ac.Status.Phase, ac.Status.ClusterID, ac.Status.Conditions)
		}
		return nil
	})
}
