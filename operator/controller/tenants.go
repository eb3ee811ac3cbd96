package controller

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	agentclient "github.com/aerolithdb/aerolith/agent/client"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
)

// ReasonTenantRemovalBlocked is the Degraded reason (and the event) of a
// tenant dropped from spec.tenants that is still served: it has data on
// the cluster (policy WhenEmpty), or billing refused the removal.
const ReasonTenantRemovalBlocked = "TenantRemovalBlocked"

// removals remembers, per cluster and dropped tenant, why its removal is
// blocked and when to try again, so a blocked removal is retried every
// Resync, not at every pass, and its event is sent when the reason
// changes. It is a cache: an operator restart tries again at once.
type removals struct {
	mu sync.Mutex
	m  map[string]removal // by cluster uid + "/" + tenant
}

type removal struct {
	next time.Time
	why  string
}

// droppedTenants are the tenants billing lists for the cluster that the
// spec no longer names, sorted.
func droppedTenants(ac *aerov1.AerolithCluster, listed []string) []string {
	want := servedTenants(ac)
	var out []string
	for _, t := range listed {
		if !slices.Contains(want, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}

// removeDroppedTenants stops serving the tenants dropped from
// spec.tenants when that is safe, and returns why the others are still
// served (one sentence each, empty when none is).
//
// Billing cannot see a cluster's data, so it refuses a removal without
// force and keeps the tenant's data on the cluster with it. The operator
// therefore asks the cluster itself (policy WhenEmpty): with a short-lived
// read key of the tenant it reads the tenant's figures on the leader, and
// removes the tenant (forced) only when no collection of it is left.
// Policy Force removes it at once, as the Terraform provider does; either
// way nothing is deleted, and adding the tenant back serves its data
// again.
func (r *Reconciler) removeDroppedTenants(ctx context.Context, ac *aerov1.AerolithCluster, pods []corev1.Pod, st *agentclient.ClusterStatus) []string {
	id := ac.Status.ClusterID
	if id == "" {
		return nil
	}
	// Billing answered earlier in this pass (tier, tenants added); if it
	// fails now, whether a tenant was dropped is unknown: the next pass
	// tells.
	bc, err := r.billingClient(ctx, ac)
	if err != nil {
		return nil
	}
	cur, err := bc.ListClusterTenants(ctx, id)
	if err != nil {
		r.log.Warn("tenants of the cluster in billing", "cluster", ac.Namespace+"/"+ac.Name, "cluster_id", id, "error", err)
		return nil
	}
	dropped := droppedTenants(ac, cur.Tenants)
	r.removals.forget(ac, dropped)
	var blocked []string
	for _, t := range dropped {
		key := string(ac.UID) + "/" + t
		if why, wait := r.removals.pending(key); wait {
			blocked = append(blocked, why)
			continue
		}
		why, err := r.removeTenant(ctx, ac, bc, pods, st, t)
		if err == nil && why == "" {
			r.removals.clear(key)
			continue
		}
		if err != nil {
			why = fmt.Sprintf("tenant %s is still served: %v", t, err)
		}
		if r.removals.block(key, why, time.Now().Add(r.cfg.Resync)) {
			r.log.Warn("tenant removal blocked", "cluster", ac.Namespace+"/"+ac.Name, "tenant", t, "why", why)
			r.event(ac, corev1.EventTypeWarning, ReasonTenantRemovalBlocked, "%s", why)
		}
		blocked = append(blocked, why)
	}
	return blocked
}

// removeTenant removes dropped tenant t from cluster ac in billing when
// its policy allows; why says what keeps it served otherwise.
func (r *Reconciler) removeTenant(ctx context.Context, ac *aerov1.AerolithCluster, bc *billingclient.Client, pods []corev1.Pod, st *agentclient.ClusterStatus, t string) (why string, err error) {
	id := ac.Status.ClusterID
	note := "its data stays on the cluster, refused to its keys, until it is added back"
	if ac.Spec.TenantRemovalPolicy != aerov1.TenantRemovalForce {
		colls, docs, err := r.tenantData(ctx, ac, pods, st, t)
		if err != nil {
			return "", fmt.Errorf("cannot see whether it still has data on the cluster: %w", err)
		}
		if colls > 0 {
			return fmt.Sprintf("tenant %s still has %d documents in %d collections on the cluster: drop its collections, "+
				"or set tenantRemovalPolicy: Force to stop serving it now (%s)", t, docs, colls, note), nil
		}
		note = "it had no data on the cluster"
	}
	// Forced: billing cannot see the cluster's data; the check above did.
	if _, err := bc.RemoveClusterTenant(ctx, id, t, true); err != nil && !billingclient.IsNotFound(err) {
		return "", fmt.Errorf("billing refused to remove it from cluster %s: %w", id, err)
	}
	r.log.Info("tenant removed", "cluster", ac.Namespace+"/"+ac.Name, "cluster_id", id, "tenant", t, "policy", ac.Spec.TenantRemovalPolicy)
	r.event(ac, corev1.EventTypeNormal, "TenantRemoved", "cluster %s no longer serves tenant %s (dropped from spec.tenants); %s", id, t, note)
	return "", nil
}

// tenantData counts tenant t's collections and documents on the cluster,
// as t sees them: the cluster admin creates a read key of t on the
// leader, the leader answers GET /api/v1/stats to it, and the key is
// revoked.
func (r *Reconciler) tenantData(ctx context.Context, ac *aerov1.AerolithCluster, pods []corev1.Pod, st *agentclient.ClusterStatus, t string) (colls, docs int64, err error) {
	var leader *corev1.Pod
	for i := range pods {
		if st != nil && pods[i].Name == st.LeaderID && podReady(&pods[i]) {
			leader = &pods[i]
		}
	}
	if leader == nil {
		return 0, 0, fmt.Errorf("no ready leader to ask")
	}
	admin, err := r.nodeClient(ctx, ac, []corev1.Pod{*leader})
	if err != nil {
		return 0, 0, err
	}
	k, err := admin.CreateKey(ctx, t, "read", "aerolith-operator-removal-check")
	if err != nil {
		return 0, 0, fmt.Errorf("create a read key of tenant %s: %w", t, err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, rerr := admin.RevokeKey(rctx, k.ID); rerr != nil {
			r.log.Warn("revoke the removal check's key", "cluster", ac.Namespace+"/"+ac.Name, "tenant", t, "key_id", k.ID, "error", rerr)
		}
	}()
	cfg := agentclient.Config{URL: r.cfg.NodeURL(ac, leader), Key: k.Key, UserAgent: "aerolith-operator",
		Timeout: 10 * time.Second, MaxRetries: 2, ConnectTimeout: 2 * time.Second}
	if scheme(ac) == "https" {
		pool, err := r.clusterCA(ctx, ac)
		if err != nil {
			return 0, 0, err
		}
		cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	tc, err := agentclient.New(cfg)
	if err != nil {
		return 0, 0, err
	}
	s, err := tc.Stats(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("stats of tenant %s: %w", t, err)
	}
	data, _ := s["data"].(map[string]any)
	if data == nil || data["tenant"] != t {
		return 0, 0, fmt.Errorf("stats of tenant %s: no data figures for it in the answer", t)
	}
	num := func(k string) (int64, error) {
		n, ok := data[k].(json.Number)
		if !ok {
			return 0, fmt.Errorf("stats of tenant %s: %s is not a number", t, k)
		}
		return n.Int64()
	}
	if colls, err = num("collections"); err != nil {
		return 0, 0, err
	}
	if docs, err = num("documents"); err != nil {
		return 0, 0, err
	}
	return colls, docs, nil
}

// pending returns why key's removal is blocked while its retry is not
// due.
func (rm *removals) pending(key string) (string, bool) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	b, ok := rm.m[key]
	return b.why, ok && time.Now().Before(b.next)
}

// block records why key's removal is blocked until next; it reports
// whether the reason is new (worth an event).
func (rm *removals) block(key, why string, next time.Time) bool {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.m == nil {
		rm.m = map[string]removal{}
	}
	prev, ok := rm.m[key]
	rm.m[key] = removal{next: next, why: why}
	return !ok || prev.why != why
}

func (rm *removals) clear(key string) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	delete(rm.m, key)
}

// forget drops the entries of ac's tenants that are no longer dropped
// (added back to the spec, or removed).
func (rm *removals) forget(ac *aerov1.AerolithCluster, dropped []string) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	prefix := string(ac.UID) + "/"
	for key := range rm.m {
		if t, ok := strings.CutPrefix(key, prefix); ok && !slices.Contains(dropped, t) {
			delete(rm.m, key)
		}
	}
}
