package controller_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	agentclient "github.com/aerolithdb/aerolith/agent/client"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/testwait"
	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
	"github.com/aerolithdb/aerolith/operator/controller"
)

// TestTenantDroppedFromSpec drops tenants from a running cluster's
// spec.tenants, with real billing and a real agent. A tenant without data
// stops being served at once; one with a collection stays served, the
// cluster Degraded (TenantRemovalBlocked) with one event and a retry per
// Resync, until its collection is dropped. With tenantRemovalPolicy Force
// a tenant with data goes at once, its data kept: added back, it reads its
// documents again.
func TestTenantDroppedFromSpec(t *testing.T) {
	const resync = 2 * time.Second
	f := newFixture(t, func(c *controller.Config) { c.NodeURL = podURL; c.Resync = resync })
	ctx := context.Background()
	var extra []string
	for _, name := range []string{"beta", "gamma", "delta"} {
		ten, err := f.admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: name, Name: name, Tier: "free", Email: "ops@" + name + ".example"})
		if err != nil {
			t.Fatalf("create tenant %s: %v", name, err)
		}
		extra = append(extra, ten.ID)
	}
	beta, gamma, delta := extra[0], extra[1], extra[2]
	k := runPods(t, f, "tn-0")
	ac := f.cluster("tn", 1)
	ac.Spec.Tenants = []string{beta, gamma, delta}
	if err := f.c.Create(ctx, ac); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, f, ac, 1)
	billed := func(want ...string) {
		t.Helper()
		slices.Sort(want)
		testwait.For(t, waitLimit, fmt.Sprintf("billing lists tenants %v", want), func() error {
			ct, err := f.admin.ListClusterTenants(ctx, ac.Status.ClusterID)
			if err != nil {
				return err
			}
			if got := slices.Sorted(slices.Values(ct.Tenants)); !slices.Equal(got, want) {
				return fmt.Errorf("billing lists %v", got)
			}
			return nil
		})
	}
	billed(f.tenant, beta, gamma, delta)

	// beta and gamma put a document; delta has nothing on the cluster.
	var admin corev1.Secret
	if err := f.c.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: controller.AdminSecretName(ac)}, &admin); err != nil {
		t.Fatal(err)
	}
	url := "http://" + k.PodIP(0) + ":" + strconv.Itoa(controller.HTTPPort)
	adm, err := agentclient.New(agentclient.Config{URL: url, Key: string(admin.Data[controller.AdminKeySecretKey])})
	if err != nil {
		t.Fatal(err)
	}
	tenantClient := func(tenant string) *agentclient.Client {
		t.Helper()
		var key *agentclient.APIKey
		testwait.For(t, waitLimit, "an admin key of "+tenant, func() error {
			key, err = adm.CreateKey(ctx, tenant, "admin", "test")
			return err
		})
		c, err := agentclient.New(agentclient.Config{URL: url, Key: key.Key})
		if err != nil {
			t.Fatal(err)
		}
		testwait.For(t, waitLimit, tenant+" writes a document", func() error {
			_, err := c.Put(ctx, "notes", "n1", map[string]string{"owner": tenant})
			return err
		})
		return c
	}
	betaC, gammaC := tenantClient(beta), tenantClient(gamma)

	// Drop beta (has data) and delta (has none).
	f.update(ac, func(a *aerov1.AerolithCluster) { a.Spec.Tenants = []string{gamma} })
	billed(f.tenant, beta, gamma)
	msg := waitCondition(t, f, ac, aerov1.PhaseDegraded, aerov1.ConditionDegraded, metav1.ConditionTrue, controller.ReasonTenantRemovalBlocked)
	if want := "tenant " + beta + " still has 1 documents in 1 collections"; !strings.Contains(msg, want) {
		t.Errorf("Degraded message %q: want it to say %q", msg, want)
	}
	if c := apimeta.FindStatusCondition(ac.Status.Conditions, aerov1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Ready while a tenant removal is blocked = %+v, want True (the cluster serves)", c)
	}
	if n := eventCount(t, f, ac, "TenantRemoved", delta); n != 1 {
		t.Errorf("%d TenantRemoved events naming %s, want 1", n, delta)
	}
	// Blocked, the removal is retried every Resync (each check makes one
	// short-lived read key of the tenant, revoked after), not at every
	// pass, and the event is sent once.
	start := time.Now()
	checks := func() []agentclient.APIKey {
		keys, err := adm.Keys(ctx, beta)
		if err != nil {
			t.Fatal(err)
		}
		return slices.DeleteFunc(keys, func(k agentclient.APIKey) bool { return k.Name != "aerolith-operator-removal-check" })
	}
	first := len(checks())
	testwait.For(t, waitLimit, "two more removal checks", func() error {
		if n := len(checks()); n < first+2 {
			return fmt.Errorf("%d checks, %d at first", n, first)
		}
		return nil
	})
	elapsed := time.Since(start)
	all := checks()
	if limit := first + int(elapsed/resync) + 2; len(all) > limit {
		t.Errorf("%d removal checks in %v with Resync %v, want at most %d (one per Resync)", len(all), elapsed, resync, limit)
	}
	// A check may be under way; its key is revoked when it ends.
	testwait.For(t, waitLimit, "every removal check's key revoked", func() error {
		for _, key := range checks() {
			if !key.Revoked {
				return fmt.Errorf("key %s not revoked", key.ID)
			}
		}
		return nil
	})
	if n := eventCount(t, f, ac, controller.ReasonTenantRemovalBlocked, beta); n != 1 {
		t.Errorf("%d TenantRemovalBlocked events naming %s, want 1", n, beta)
	}
	billed(f.tenant, beta, gamma)

	// beta drops its collection: nothing left, so it is removed.
	if err := betaC.DropCollection(ctx, "notes"); err != nil {
		t.Fatal(err)
	}
	billed(f.tenant, gamma)
	waitCondition(t, f, ac, aerov1.PhaseRunning, aerov1.ConditionDegraded, metav1.ConditionFalse, controller.ReasonAllNodesReady)
	if n := eventCount(t, f, ac, "TenantRemoved", beta); n != 1 {
		t.Errorf("%d TenantRemoved events naming %s, want 1", n, beta)
	}

	// Force: gamma goes at once though it has data, which stays.
	f.update(ac, func(a *aerov1.AerolithCluster) {
		a.Spec.Tenants = nil
		a.Spec.TenantRemovalPolicy = aerov1.TenantRemovalForce
	})
	billed(f.tenant)
	if n := eventCount(t, f, ac, "TenantRemoved", gamma+" (dropped from spec.tenants); its data stays on the cluster"); n != 1 {
		t.Errorf("%d TenantRemoved events saying %s's data stays, want 1", n, gamma)
	}
	f.update(ac, func(a *aerov1.AerolithCluster) { a.Spec.Tenants = []string{gamma} })
	billed(f.tenant, gamma)
	testwait.For(t, waitLimit, gamma+" reads its document again", func() error {
		_, err := gammaC.Get(ctx, "notes", "n1")
		return err
	})
	waitRunning(t, f, ac, 1)
}
