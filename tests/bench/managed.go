package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// The managed comparison (issue: metering and quotas cost ≤ 5%): the same
// 100-client put and linearizable get workloads against two 3-node clusters
// that run side by side for the whole comparison — "off", plain agents with
// the cluster admin key, and "on", agents enrolled with a billing process,
// every request authenticated with a tenant key, admitted by the tenant's
// quota enforcer and metered into the fsynced outbox that ships to billing.
// The tenant's tier has limits far above the load, so nothing is throttled;
// the run fails if any request is refused. Workloads alternate between the
// clusters (off, on, then on, off, ...) so drift on the machine hits both.

// managedTier is the tiers file of the comparison: one tier whose limits no
// benchmark reaches, quota action block (a refusal would fail the run).
const managedTier = `tiers:
  - name: bench
    base_price: "0"
    included: {reads: 0, writes: 0, queries: 0, storage: 0, egress: 0, query_compute: 0}
    overage:
      reads: {model: per_unit, unit: 1000000, unit_price: "0.10"}
      writes: {model: per_unit, unit: 1000000, unit_price: "1.00"}
      queries: {model: per_unit, unit: 1000000, unit_price: "1.00"}
      storage: {model: per_unit, unit: 1, unit_price: "0.25"}
      egress: {model: per_unit, unit: 1, unit_price: "0.09"}
      query_compute: {model: per_unit, unit: 1, unit_price: "0.0001"}
    limits:
      storage_bytes: 100GB
      api_calls_per_day: 10G
      api_calls_per_hour: 1G
      requests_per_second: 10M
      concurrent_connections: 100k
      max_query_duration: 30s
      max_collections: 1000
      max_documents_per_collection: 100M
      retention_days: 30
    quota_action: block
`

// managedEnv is billing plus the two clusters.
type managedEnv struct {
	bill    *proctest.Billing
	admin   *billingclient.Client
	tenant  string
	probes  uint64 // probe writes answered 400 by waitServing (metered)
	off, on *proctest.Cluster
	key     string // the tenant's readwrite key on the "on" cluster
}

// benchManaged runs the comparison on o.abPairs fresh pairs of clusters
// (each with its own billing) and prints its lines and table.
func benchManaged(ctx context.Context, o options, bin, dir string, stdout io.Writer) ([]ABResult, []ABRatio, error) {
	fmt.Fprintf(stdout, "# managed comparison: %d pairs of clusters x %d rounds of put and linearizable get, %d clients, %d requests each; off = plain cluster (admin key), on = enrolled cluster (tenant key, quotas, metering to billing)\n",
		o.abPairs, o.managedRounds, o.clients, o.managedTotal)
	var (
		results        []ABResult
		served, billed contract.Counters // over the pairs: reads and writes
		exact          error
	)
	for pair := 1; pair <= o.abPairs; pair++ {
		rs, want, got, err := benchManagedPair(ctx, o, bin, filepath.Join(dir, fmt.Sprint(pair)), pair, stdout)
		if err != nil {
			return nil, nil, err
		}
		results = append(results, rs...)
		served.Writes, served.Reads = served.Writes+want.Writes, served.Reads+want.Reads
		billed.Writes, billed.Reads = billed.Writes+got.Writes, billed.Reads+got.Reads
		if got.Writes != want.Writes || got.Reads != want.Reads {
			exact = errors.Join(exact, fmt.Errorf("pair %d: metering is not exact: billed %d writes and %d reads, served %d and %d",
				pair, got.Writes, got.Reads, want.Writes, want.Reads))
		}
	}
	ratios := abRatios(results)
	for i := range ratios {
		switch ratios[i].Op {
		case opPut:
			ratios[i].Requested, ratios[i].Metered = served.Writes, billed.Writes
		case opGet:
			ratios[i].Requested, ratios[i].Metered = served.Reads, billed.Reads
		}
	}
	writeABTable(stdout, "managed", "target loss <= 5%", ratios)
	return results, ratios, exact
}

// benchManagedPair runs the rounds on one fresh pair of clusters. want is
// what the "on" side served (its readiness probes included), got what
// billing counted for it.
func benchManagedPair(ctx context.Context, o options, bin, dir string, pair int, stdout io.Writer) (results []ABResult, want, got contract.Counters, err error) {
	e, err := startManaged(ctx, o, bin, dir)
	if e != nil {
		defer e.close()
	}
	if err != nil {
		return nil, want, got, err
	}
	off := abSide{Name: "off", Cluster: e.off, Key: e.off.AdminKey()}
	on := abSide{Name: "on", Cluster: e.on, Key: e.key, ExtraPIDs: []int{e.bill.PID()}}
	results, err = runAB(ctx, o, "managed", pair, off, on, stdout)
	if err != nil {
		return nil, want, got, err
	}
	for _, r := range results {
		if r.Mode != "on" {
			continue
		}
		switch r.Op {
		case opPut:
			want.Writes += uint64(r.N)
		case opGet:
			want.Reads += uint64(r.N)
		}
	}
	// Metering must have counted every request the "on" cluster served,
	// the readiness probes included: wait until billing has the windows.
	want.Writes += e.probes
	got, err = e.waitMetered(ctx, want.Writes, want.Reads)
	return results, want, got, err
}

// startManaged starts billing, creates the tenant and both clusters, and a
// tenant key; it returns once every "on" node serves the tenant's writes.
// On error the returned env (if any) must still be closed.
func startManaged(ctx context.Context, o options, bin, dir string) (*managedEnv, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tiers := filepath.Join(dir, "managed-tiers.yaml")
	if err := os.WriteFile(tiers, []byte(managedTier), 0o600); err != nil {
		return nil, err
	}
	e := &managedEnv{}
	var err error
	e.bill, err = proctest.StartBilling(ctx, proctest.BillingConfig{Binary: bin, Dir: filepath.Join(dir, "billing"),
		LogLevel: o.logLevel, ExtraArgs: []string{"--tiers", tiers}})
	if err != nil {
		return nil, err
	}
	if e.admin, err = e.bill.Admin(); err != nil {
		return e, err
	}
	// The tiers file is put in force by billing's scheduler once it leads.
	err = retry(ctx, "tiers file in force", func() (bool, error) {
		cat, err := e.admin.Pricing(ctx)
		if err != nil {
			return false, err
		}
		if _, ok := cat.Get("bench"); !ok {
			return false, fmt.Errorf("tiers %v", cat.Names())
		}
		return true, nil
	})
	if err != nil {
		return e, err
	}
	t, err := e.admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "Bench", Name: "bench", Tier: "bench", Email: "bench@example.com"})
	if err != nil {
		return e, fmt.Errorf("create tenant: %w", err)
	}
	e.tenant = t.ID
	enr, err := e.admin.RegisterCluster(ctx, "", []string{t.ID})
	if err != nil {
		return e, fmt.Errorf("register cluster: %w", err)
	}
	if e.off, err = startSide(ctx, o, bin, filepath.Join(dir, "off"), false, nil); err != nil {
		return e, fmt.Errorf("off cluster: %w", err)
	}
	if e.on, err = startSide(ctx, o, bin, filepath.Join(dir, "on"), false, []string{"--billing-url", e.bill.URL(), "--enrollment-token", enr.EnrollmentToken}); err != nil {
		return e, fmt.Errorf("on cluster: %w", err)
	}
	if e.key, err = e.createKey(ctx); err != nil {
		return e, err
	}
	return e, e.waitServing(ctx)
}

// createKey creates the tenant's readwrite key through the cluster admin
// key, retrying while the agents are still enrolling.
func (e *managedEnv) createKey(ctx context.Context) (string, error) {
	body, _ := json.Marshal(map[string]string{"tenant": e.tenant, "role": "readwrite", "name": "bench"})
	var out struct {
		Key string `json:"key"`
	}
	err := retry(ctx, "create tenant key", func() (bool, error) {
		status, raw, err := call(ctx, http.MethodPost, e.on.URL(0)+"/api/v1/keys", e.on.AdminKey(), body)
		if err != nil || status != http.StatusCreated {
			return false, fmt.Errorf("POST /api/v1/keys: %d %s %v", status, raw, err)
		}
		return true, json.Unmarshal(raw, &out)
	})
	return out.Key, err
}

// waitServing waits until every "on" node admits the tenant's writes: it
// knows the key and holds the tenant's policy. The probe is a PUT with a
// malformed body, answered 400 once admitted, writing nothing.
func (e *managedEnv) waitServing(ctx context.Context) error {
	for i := 0; i < e.on.N(); i++ {
		u := fmt.Sprintf("%s/api/v1/collections/%s/documents/probe", e.on.URL(i), Collection)
		err := retry(ctx, "node "+e.on.NodeID(i)+" serves the tenant", func() (bool, error) {
			status, raw, err := call(ctx, http.MethodPut, u, e.key, []byte("{"))
			if err != nil || status != http.StatusBadRequest {
				return false, fmt.Errorf("probe: %d %s %v", status, raw, err)
			}
			e.probes++ // served (a 400), so metered as a write
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("%w\n%s", err, e.on.LogTails(20))
		}
	}
	return nil
}

// waitMetered waits until billing has accepted at least writes writes and
// reads reads for the tenant, and returns what it has.
func (e *managedEnv) waitMetered(ctx context.Context, writes, reads uint64) (contract.Counters, error) {
	var got contract.Counters
	err := retry(ctx, "billing receives the metered usage", func() (bool, error) {
		s, err := e.admin.Usage(ctx, e.tenant, billingclient.UsageQuery{From: time.Now().Add(-24 * time.Hour), To: time.Now().Add(time.Hour), Granularity: "hour"})
		if err != nil {
			return false, err
		}
		got = s.Total
		if got.Writes < writes || got.Reads < reads {
			return false, fmt.Errorf("billed %d writes and %d reads, served %d and %d", got.Writes, got.Reads, writes, reads)
		}
		return true, nil
	})
	return got, err
}

func (e *managedEnv) close() {
	if e.on != nil {
		stopCluster(e.on)
	}
	if e.off != nil {
		stopCluster(e.off)
	}
	if e.bill != nil {
		e.bill.Stop()
	}
}

// stopCluster stops c's agents gracefully (a minute at most) and kills
// what is left.
func stopCluster(c *proctest.Cluster) {
	sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_ = c.StopAll(sctx)
	_ = c.Close()
}

// call sends one request and returns the status and body.
func call(ctx context.Context, method, u, key string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, bytes.TrimSpace(raw), err
}

// retry calls f every 100ms until it reports done, for at most a minute.
func retry(ctx context.Context, what string, f func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		done, err := f()
		if done && err == nil {
			return nil
		}
		if done {
			return fmt.Errorf("%s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %v)", what, ctx.Err(), err)
		case <-t.C:
		}
	}
}
