package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aerolithdb/aerolith/agent/client"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/apiclient"
	"github.com/aerolithdb/aerolith/internal/atomicfile"
	"github.com/aerolithdb/aerolith/provisioner/local"
)

// The billing service `aerolith up` runs: a demo billing cycle (a draft
// invoice every upBillingPeriod, finalized a day later), usage aggregated
// per minute. They are fixed so a --data-dir can be reused.
const (
	upBillingPeriod = "10m"
	upUsageBucket   = "1m"
	upBillingGrace  = "24h"
	upTenantName    = "demo"
	upTenantTier    = "starter"
	// upStateFile keeps the demo tenant, cluster enrollment and tenant key
	// across runs with the same --data-dir.
	upStateFile = "up-state.json"
)

// upState is what a rerun with the same --data-dir reuses.
type upState struct {
	TenantID        string `json:"tenant_id"`
	ClusterID       string `json:"cluster_id"`
	EnrollmentToken string `json:"enrollment_token"`
	// TenantKeyID and TenantKey are the demo tenant's readwrite key.
	TenantKeyID string `json:"tenant_key_id,omitempty"`
	TenantKey   string `json:"tenant_key,omitempty"`
}

func loadUpState(dir string) (upState, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, upStateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return upState{}, false, nil
	}
	if err != nil {
		return upState{}, false, err
	}
	var s upState
	if err := json.Unmarshal(b, &s); err != nil {
		return upState{}, false, fmt.Errorf("%s: %v; delete it to start a new demo tenant", filepath.Join(dir, upStateFile), err)
	}
	return s, true, nil
}

func saveUpState(dir string, s upState) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, upStateFile), append(b, '\n'), 0o600)
}

// planBilling lays out the billing process of `aerolith up`.
func planBilling(cfg upConfig, dir string) *localNode {
	n := &localNode{
		id:       "billing",
		httpAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.billingPort)),
		raftAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.billingPort+1)),
		dataDir:  filepath.Join(dir, "billing"),
		logPath:  filepath.Join(dir, "billing.log"),
	}
	n.args = []string{"billing", "serve",
		"--data-dir", n.dataDir,
		"--http-addr", n.httpAddr,
		"--raft-addr", n.raftAddr,
		"--advertise", "127.0.0.1",
		"--period", upBillingPeriod,
		"--usage-bucket", upUsageBucket,
		"--grace", upBillingGrace,
		"--log-level", cfg.logLevel,
		"--log-format", "text",
	}
	return n
}

// billingURL is the billing service's base URL.
func billingURL(n *localNode) string { return n.baseURL() }

// waitBilling waits until the billing service signs policies (its leader
// has set up the signing key), or the process exits.
func waitBilling(ctx context.Context, b *localCluster, admin *billingclient.Client) error {
	n := b.nodes[0]
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		select {
		case <-b.exited:
			b.printLogTail(n)
			return fmt.Errorf("billing exited while starting (%s); its log: %s", local.ExitReason(b.exit.err), n.logPath)
		default:
		}
		probe, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, _, last = admin.PublicKey(probe)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				b.printLogTail(n)
				return fmt.Errorf("billing not ready in time: %v; its log: %s", last, n.logPath)
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// setUpTenant returns the demo tenant and the cluster's enrollment: those
// of the state file when billing still has them, else new ones (tenant
// "demo" on the starter tier, a cluster registered for it).
func setUpTenant(ctx context.Context, admin *billingclient.Client, st upState, have bool) (upState, bool, error) {
	if have && st.TenantID != "" && st.ClusterID != "" && st.EnrollmentToken != "" {
		_, errT := admin.GetTenant(ctx, st.TenantID)
		_, errC := admin.GetCluster(ctx, st.ClusterID)
		switch {
		case errT == nil && errC == nil:
			return st, true, nil
		case !billingclient.IsNotFound(errT) && errT != nil:
			return st, false, errT
		case !billingclient.IsNotFound(errC) && errC != nil:
			return st, false, errC
		}
		// Billing lost them (its data was removed): start over.
	}
	t, err := admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "Demo", Name: upTenantName, Tier: upTenantTier, Email: "demo@example.com"})
	if err != nil {
		return upState{}, false, fmt.Errorf("create the demo tenant: %w", err)
	}
	e, err := admin.RegisterCluster(ctx, "", []string{t.ID})
	if err != nil {
		return upState{}, false, fmt.Errorf("register the cluster: %w", err)
	}
	return upState{TenantID: t.ID, ClusterID: e.ClusterID, EnrollmentToken: e.EnrollmentToken}, false, nil
}

// tenantKey returns the demo tenant's readwrite key: the stored one while
// the cluster still accepts it, else a new one created with the admin key.
func tenantKey(ctx context.Context, c *localCluster, st upState) (upState, bool, error) {
	if st.TenantKey != "" {
		kc, err := client.New(client.Config{URL: c.url(), Key: st.TenantKey, UserAgent: "aerolith-up", HTTPClient: c.hc})
		if err != nil {
			return st, false, err
		}
		if _, err := kc.Stats(ctx); err == nil {
			return st, true, nil
		} else if !client.IsUnauthenticated(err) {
			return st, false, fmt.Errorf("check the stored tenant key: %w", err)
		}
	}
	api, err := apiclient.New(apiclient.Config{URL: c.url(), Key: c.key, UserAgent: "aerolith-up", HTTPClient: c.hc})
	if err != nil {
		return st, false, err
	}
	req, err := apiclient.NewRequest(http.MethodPost, "/api/v1/keys", map[string]string{"tenant": st.TenantID, "role": "readwrite", "name": "aerolith up"})
	if err != nil {
		return st, false, err
	}
	var k apiKey
	if _, err := api.Call(ctx, req, &k); err != nil {
		return st, false, fmt.Errorf("create the tenant key: %w", err)
	}
	st.TenantKeyID, st.TenantKey = k.ID, k.Key
	return st, false, waitKeyEverywhere(ctx, c, k.Key)
}

// waitKeyEverywhere waits until every node accepts key: a node accepts a
// new key once it applied its creation through raft (normally within
// milliseconds of the leader).
func waitKeyEverywhere(ctx context.Context, c *localCluster, key string) error {
	for _, n := range c.nodes {
		kc, err := client.New(client.Config{URL: n.baseURL(), Key: key, UserAgent: "aerolith-up", MaxRetries: -1, HTTPClient: c.hc})
		if err != nil {
			return err
		}
		for {
			_, err := kc.Stats(ctx)
			if err == nil {
				break
			}
			if !client.IsUnauthenticated(err) && !client.IsUnavailable(err) {
				return fmt.Errorf("%s: check the new tenant key: %w", n.id, err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s does not accept the new tenant key yet: %w", n.id, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// demoIndex creates an index of the tenant of key (up's readwrite key).
// Indexes are the tenant admin's, so it mints an admin key of that tenant
// with the cluster admin key, creates the index with it (an existing index
// is fine) and revokes it.
func demoIndex(ctx context.Context, c *localCluster, key, collection, field string) (err error) {
	rw, err := client.New(client.Config{URL: c.url(), Key: key, UserAgent: "aerolith-up", HTTPClient: c.hc})
	if err != nil {
		return err
	}
	st, err := rw.Stats(ctx)
	if err != nil {
		return fmt.Errorf("find the tenant key's tenant: %w", err)
	}
	data, _ := st["data"].(map[string]any)
	tenant, _ := data["tenant"].(string)
	if tenant == "" {
		return fmt.Errorf("find the tenant key's tenant: /api/v1/stats names none")
	}
	api, err := apiclient.New(apiclient.Config{URL: c.url(), Key: c.key, UserAgent: "aerolith-up", HTTPClient: c.hc})
	if err != nil {
		return err
	}
	req, err := apiclient.NewRequest(http.MethodPost, "/api/v1/keys", map[string]string{"tenant": tenant, "role": "admin", "name": "aerolith up (index)"})
	if err != nil {
		return err
	}
	var k apiKey
	if _, err := api.Call(ctx, req, &k); err != nil {
		return fmt.Errorf("create a tenant admin key for the index: %w", err)
	}
	defer func() {
		req, rerr := apiclient.NewRequest(http.MethodDelete, "/api/v1/keys/"+k.ID, nil)
		if rerr == nil {
			_, rerr = api.Call(ctx, req, nil)
		}
		if rerr != nil {
			err = errors.Join(err, fmt.Errorf("revoke the tenant admin key %s made for the index: %w", k.ID, rerr))
		}
	}()
	cl, err := client.New(client.Config{URL: c.url(), Key: k.Key, UserAgent: "aerolith-up", HTTPClient: c.hc})
	if err != nil {
		return err
	}
	if err := cl.CreateIndex(ctx, collection, field); err != nil && !client.IsConflict(err) {
		return err
	}
	return nil
}
