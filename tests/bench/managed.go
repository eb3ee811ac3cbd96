package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/ledger"
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

// ManagedResult is one workload run in one mode.
type ManagedResult struct {
	Mode  string `json:"mode"` // "off" or "on"
	Round int    `json:"round"`
	Result
	// CPUPerRequest is the CPU time (user + system) the servers used per
	// request: the three agents, and billing for "on" (it ingests the
	// usage). Unlike qps it hardly moves with what else runs on the
	// machine, so it shows the cost of metering and quotas directly.
	CPUPerRequest time.Duration `json:"cpu_per_request_ns"`
}

// ManagedRatio compares the medians of the two modes for one workload.
type ManagedRatio struct {
	Op      string  `json:"op"`
	Clients int     `json:"clients"`
	OffQPS  float64 `json:"off_qps_median"`
	OnQPS   float64 `json:"on_qps_median"`
	Ratio   float64 `json:"qps_on_over_off"` // median of the rounds' ratios
	// RoundRatios are the rounds' on/off qps ratios, sorted.
	RoundRatios []float64 `json:"round_ratios"`
	OffP99      float64   `json:"off_p99_ms_median"`
	OnP99       float64   `json:"on_p99_ms_median"`
	// OffCPU and OnCPU are the median CPU microseconds per request;
	// CPURatio the median of the rounds' on/off ratios of it.
	OffCPU    float64 `json:"off_cpu_us_per_request"`
	OnCPU     float64 `json:"on_cpu_us_per_request"`
	CPURatio  float64 `json:"cpu_on_over_off"`
	LossPct   float64 `json:"throughput_loss_pct"`
	Metered   uint64  `json:"metered"`
	Requested uint64  `json:"requested"`
}

// managedEnv is billing plus the two clusters.
type managedEnv struct {
	bill    *proctest.Billing
	admin   *billingclient.Client
	tenant  string
	off, on *proctest.Cluster
	key     string // the tenant's readwrite key on the "on" cluster
}

// benchManaged runs the comparison and prints its lines and table.
func benchManaged(ctx context.Context, o options, bin, dir string, stdout io.Writer) ([]ManagedResult, []ManagedRatio, error) {
	e, err := startManaged(ctx, o, bin, dir)
	if e != nil {
		defer e.close()
	}
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(stdout, "# managed comparison: %d rounds of put and linearizable get, %d clients, %d requests each; off = plain cluster (admin key), on = enrolled cluster (tenant key, quotas, metering to billing)\n",
		o.managedRounds, o.clients, o.managedTotal)
	var (
		results []ManagedResult
		want    = map[string]uint64{} // op → requests served by "on"
	)
	for round := 1; round <= o.managedRounds; round++ {
		modes := []string{"off", "on"}
		if round%2 == 0 {
			modes = []string{"on", "off"}
		}
		for _, op := range []string{opPut, opGet} {
			for _, mode := range modes {
				c, key, pids := e.off, e.off.AdminKey(), pidsOf(e.off)
				if mode == "on" {
					c, key, pids = e.on, e.key, append(pidsOf(e.on), e.bill.PID())
				}
				cpu0, cpuErr := cpuOf(pids)
				r, err := RunLoad(ctx, LoadConfig{URLs: c.URLs(), Key: key, Op: op, Clients: o.clients,
					ConnsPerNode: o.connsPerNode, Total: o.managedTotal, KeySpace: o.managedTotal})
				if err != nil {
					return nil, nil, fmt.Errorf("managed %s round %d %s: %w\n%s", mode, round, op, err, c.LogTails(20))
				}
				mr := ManagedResult{Mode: mode, Round: round, Result: r}
				if cpu1, err := cpuOf(pids); err == nil && cpuErr == nil && r.N > 0 {
					mr.CPUPerRequest = (cpu1 - cpu0) / time.Duration(r.N)
				}
				if mode == "on" {
					want[op] += uint64(r.N)
				}
				fmt.Fprintf(stdout, "managed=%s round=%d %s cpu/req=%v\n", mode, round, r, mr.CPUPerRequest)
				results = append(results, mr)
			}
		}
	}
	// Metering must have counted every request the "on" cluster served:
	// wait until billing has the windows (probe writes make it a little more).
	got, err := e.waitMetered(ctx, want[opPut], want[opGet])
	if err != nil {
		return nil, nil, err
	}
	ratios := managedRatios(results)
	for i := range ratios {
		switch ratios[i].Op {
		case opPut:
			ratios[i].Requested, ratios[i].Metered = want[opPut], got.Writes
		case opGet:
			ratios[i].Requested, ratios[i].Metered = want[opGet], got.Reads
		}
	}
	writeManagedTable(stdout, ratios)
	return results, ratios, nil
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
	start := func(name string, extra ...string) (*proctest.Cluster, error) {
		c, err := proctest.New(proctest.Config{Binary: bin, Dir: filepath.Join(dir, name), Nodes: nodes, LogLevel: o.logLevel, ExtraArgs: extra})
		if err != nil {
			return nil, err
		}
		sctx, cancel := context.WithTimeout(ctx, proctest.StartupTimeout)
		defer cancel()
		if err := c.Start(sctx); err != nil {
			return c, err
		}
		if err := c.WaitAllReady(sctx); err != nil {
			return c, fmt.Errorf("%w\n%s", err, c.LogTails(20))
		}
		_, err = c.WaitLeader(sctx)
		return c, err
	}
	if e.off, err = start("off"); err != nil {
		return e, fmt.Errorf("off cluster: %w", err)
	}
	if e.on, err = start("on", "--billing-url", e.bill.URL(), "--enrollment-token", enr.EnrollmentToken); err != nil {
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
func (e *managedEnv) waitMetered(ctx context.Context, writes, reads uint64) (ledger.Counters, error) {
	var got ledger.Counters
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
	stop := func(c *proctest.Cluster) {
		if c == nil {
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = c.StopAll(sctx)
		_ = c.Close()
	}
	stop(e.on)
	stop(e.off)
	if e.bill != nil {
		e.bill.Stop()
	}
}

// managedRatios reduces the runs per workload: the median qps and p99 of
// each mode, and the median over the rounds of each round's on/off qps
// ratio (the two runs of a round are back to back, so the pair shares the
// machine's state; the median of the pairs resists drift between rounds).
func managedRatios(rs []ManagedResult) []ManagedRatio {
	var out []ManagedRatio
	for _, op := range []string{opPut, opGet} {
		var offQ, onQ, offP, onP, offC, onC []float64
		pairs := map[int][2]float64{}    // round → off, on qps
		cpuPairs := map[int][2]float64{} // round → off, on CPU µs per request
		clients := 0
		for _, r := range rs {
			if r.Op != op {
				continue
			}
			clients = r.Clients
			p99 := float64(r.P99) / float64(time.Millisecond)
			pr, cp := pairs[r.Round], cpuPairs[r.Round]
			cpu := float64(r.CPUPerRequest) / float64(time.Microsecond)
			if r.Mode == "on" {
				onQ, onP = append(onQ, r.QPS), append(onP, p99)
				pr[1], cp[1] = r.QPS, cpu
				if cpu > 0 {
					onC = append(onC, cpu)
				}
			} else {
				offQ, offP = append(offQ, r.QPS), append(offP, p99)
				pr[0], cp[0] = r.QPS, cpu
				if cpu > 0 {
					offC = append(offC, cpu)
				}
			}
			pairs[r.Round], cpuPairs[r.Round] = pr, cp
		}
		var ratios []float64
		for _, pr := range pairs {
			if pr[0] > 0 && pr[1] > 0 {
				ratios = append(ratios, pr[1]/pr[0])
			}
		}
		if len(ratios) == 0 {
			continue
		}
		var cpuRatios []float64
		for _, cp := range cpuPairs {
			if cp[0] > 0 && cp[1] > 0 {
				cpuRatios = append(cpuRatios, cp[1]/cp[0])
			}
		}
		m := ManagedRatio{Op: op, Clients: clients, OffQPS: median(offQ), OnQPS: median(onQ), OffP99: median(offP), OnP99: median(onP),
			Ratio: median(ratios), RoundRatios: ratios}
		sort.Float64s(m.RoundRatios)
		if len(offC) > 0 && len(onC) > 0 && len(cpuRatios) > 0 {
			m.OffCPU, m.OnCPU, m.CPURatio = median(offC), median(onC), median(cpuRatios)
		}
		m.LossPct = (1 - m.Ratio) * 100
		out = append(out, m)
	}
	return out
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func writeManagedTable(w io.Writer, rs []ManagedRatio) {
	fmt.Fprintln(w, "# managed comparison (on/off = median of the rounds' qps ratios; loss = 1 - on/off; target loss <= 5%; qps and p99: medians per mode)")
	fmt.Fprintf(w, "%-8s %7s %10s %10s %8s %8s %11s %11s %12s %12s %10s %16s  %s\n", "op", "clients", "off qps", "on qps", "on/off", "loss",
		"off p99", "on p99", "off cpu/req", "on cpu/req", "cpu on/off", "metered/served", "round ratios")
	for _, r := range rs {
		rr := make([]string, len(r.RoundRatios))
		for i, x := range r.RoundRatios {
			rr[i] = fmt.Sprintf("%.3f", x)
		}
		fmt.Fprintf(w, "%-8s %7d %10.0f %10.0f %8.3f %7.1f%% %9.2fms %9.2fms %10.0fµs %10.0fµs %10.3f %16s  %s\n",
			r.Op, r.Clients, r.OffQPS, r.OnQPS, r.Ratio, r.LossPct, r.OffP99, r.OnP99, r.OffCPU, r.OnCPU, r.CPURatio,
			fmt.Sprintf("%d/%d", r.Metered, r.Requested), strings.Join(rr, " "))
	}
}

// pidsOf returns the process ids of c's running nodes.
func pidsOf(c *proctest.Cluster) []int {
	var pids []int
	for i := range c.N() {
		if pid := c.PID(i); pid != 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cpuOf sums the CPU time the processes have used.
func cpuOf(pids []int) (time.Duration, error) {
	var sum time.Duration
	for _, pid := range pids {
		d, err := proctest.ProcessCPU(pid)
		if err != nil {
			return 0, err
		}
		sum += d
	}
	return sum, nil
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
