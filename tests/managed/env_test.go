package managed

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// bigLimits are limits no suite reaches; a tier overrides some of them.
var bigLimits = map[string]string{
	"storage_bytes":                "1GB",
	"api_calls_per_day":            "100M",
	"api_calls_per_hour":           "10M",
	"requests_per_second":          "100k",
	"concurrent_connections":       "10k",
	"max_query_duration":           "30s",
	"max_collections":              "1000",
	"max_documents_per_collection": "10M",
	"retention_days":               "30",
}

// tierYAML renders one tier of a tiers file: no base price, nothing
// included, every unit billed at one cent (so overage is priced), the
// big limits overridden by limits, and the quota action.
func tierYAML(name, action string, limits map[string]string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "  - name: %s\n    base_price: \"0\"\n", name)
	sb.WriteString("    included: {reads: 0, writes: 0, queries: 0, storage: 0, egress: 0, query_compute: 0}\n    overage:\n")
	for _, m := range []string{"reads", "writes", "queries", "storage", "egress", "query_compute"} {
		fmt.Fprintf(&sb, "      %s: {model: per_unit, unit: 1, unit_price: \"0.01\"}\n", m)
	}
	sb.WriteString("    limits:\n")
	var keys []string
	for k := range bigLimits {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := bigLimits[k]
		if o, ok := limits[k]; ok {
			v = o
		}
		fmt.Fprintf(&sb, "      %s: %s\n", k, v)
	}
	fmt.Fprintf(&sb, "    quota_action: %s\n", action)
	return sb.String()
}

// tiersFile writes a tiers file holding the given tiers and returns its path.
func tiersFile(t *testing.T, tiers ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tiers.yaml")
	if err := os.WriteFile(p, []byte("tiers:\n"+strings.Join(tiers, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tenantSpec is a tenant to create: a label the test uses and its tier.
type tenantSpec struct{ label, tier string }

// envConfig configures a managed environment.
type envConfig struct {
	tiers   []string // tierYAML outputs
	tenants []tenantSpec
	// window and refresh are the agents' --meter-window and
	// --policy-refresh (default 1s each).
	window, refresh time.Duration
}

// env is billing plus a three-node managed cluster enrolled with it,
// serving every tenant of the config.
type env struct {
	t         *testing.T
	bill      *billingProc
	admin     *billingclient.Client
	c         *proctest.Cluster
	clusterID string
	token     string
	ids       map[string]string // label → tenant id
	http      *caller
	start     time.Time
}

// newEnv starts billing (--period 1h), creates the tenants, registers one
// cluster serving them all and starts three agents enrolled with it.
func newEnv(t *testing.T, cfg envConfig) *env {
	t.Helper()
	proctest.SkipIfShort(t)
	if binary == "" {
		t.Fatal("aerolith binary not built (TestMain)")
	}
	if cfg.window == 0 {
		cfg.window = time.Second
	}
	if cfg.refresh == 0 {
		cfg.refresh = time.Second
	}
	e := &env{t: t, ids: map[string]string{}, http: newCaller(30 * time.Second), start: time.Now()}
	e.bill = startBilling(t, "--period", "1h", "--tiers", tiersFile(t, cfg.tiers...))
	e.admin = e.bill.admin()
	ctx := context.Background()
	var ids []string
	for _, ts := range cfg.tenants {
		ten, err := e.admin.CreateTenant(ctx, billingclient.TenantRequest{
			Organization: "Org " + ts.label, Name: ts.label, Tier: ts.tier, Email: ts.label + "@example.com"})
		if err != nil {
			t.Fatalf("create tenant %s on tier %s: %v", ts.label, ts.tier, err)
		}
		e.ids[ts.label] = ten.ID
		ids = append(ids, ten.ID)
	}
	enr, err := e.admin.RegisterCluster(ctx, "", ids)
	if err != nil {
		t.Fatalf("register cluster: %v", err)
	}
	e.clusterID, e.token = enr.ClusterID, enr.EnrollmentToken
	e.c = proctest.StartCluster(t, proctest.Config{Binary: binary, Nodes: 3, ExtraArgs: []string{
		"--billing-url", e.bill.url(),
		"--enrollment-token", e.token,
		"--meter-window", cfg.window.String(),
		"--policy-refresh", cfg.refresh.String(),
	}})
	return e
}

// id returns the tenant id of label.
func (e *env) id(label string) string {
	e.t.Helper()
	id, ok := e.ids[label]
	if !ok {
		e.t.Fatalf("no tenant %q", label)
	}
	return id
}

// adminDo sends one request with the cluster admin key.
func (e *env) adminDo(ctx context.Context, method, u string, body []byte) answer {
	return e.http.do(ctx, method, u, e.c.AdminKey(), body, nil)
}

// keyOut is the answer of POST /api/v1/keys.
type keyOut struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	Role   string `json:"role"`
	Name   string `json:"name"`
	Key    string `json:"key"`
}

// createKey creates an API key of role for the tenant labelled label
// through node i's key route (cluster admin key).
func (e *env) createKey(i int, label, role, name string) keyOut {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var k keyOut
	testwait.For(e.t, waitLimit, "create "+role+" key for "+label, func() error {
		a := e.adminDo(ctx, http.MethodPost, e.c.URL(i)+"/api/v1/keys",
			mustJSON(map[string]string{"tenant": e.id(label), "role": role, "name": name}))
		if a.Status == http.StatusServiceUnavailable || a.Err != nil {
			return fmt.Errorf("POST /api/v1/keys: %s", a) // no leader yet
		}
		if a.Status != http.StatusCreated {
			return fmt.Errorf("%w: POST /api/v1/keys = %s, want 201", errExited, a)
		}
		return a.decode(&k)
	})
	if k.Key == "" || k.ID == "" || k.Tenant != e.id(label) || k.Role != role {
		e.t.Fatalf("created key = %+v, want id, key, tenant %s and role %s", k, e.id(label), role)
	}
	return k
}

// client returns a client for the tenant labelled label with key, counting
// into tl (nil: not counted).
func (e *env) client(label, key string, tl *tally) *tenantClient {
	return &tenantClient{tenant: e.id(label), key: key, c: e.http, tally: tl}
}

// waitServing waits until every node serves writes of each client's
// tenant: the node knows the key (raft) and holds the tenant's policy
// (fetched from billing; until then writes answer 503 no_policy). The
// probe is a PUT with a malformed body: once admitted it fails with 400
// without writing anything, but it is an admitted request (one call in the
// tenant's rate limits, one metered write).
func (e *env) waitServing(tcs ...*tenantClient) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitLimit)
	defer cancel()
	for i := 0; i < e.c.N(); i++ {
		for _, tc := range tcs {
			testwait.For(e.t, waitLimit, fmt.Sprintf("node %s serves writes of %s", e.c.NodeID(i), tc.tenant), func() error {
				a := tc.call(ctx, kindWrite, 1, http.MethodPut, docURL(e.c.URL(i), "probe", "p"), []byte("{"))
				switch {
				case a.Err != nil, a.Status == http.StatusServiceUnavailable, a.Status == http.StatusUnauthorized:
					return fmt.Errorf("probe write: %s", a)
				case a.Status >= 500:
					return fmt.Errorf("%w: probe write: %s", errExited, a)
				}
				return nil
			})
		}
	}
}

// billed returns the usage billing has accepted for the tenant labelled
// label, all windows since the environment started.
func (e *env) billed(ctx context.Context, label string) (contract.Counters, error) {
	s, err := e.admin.Usage(ctx, e.id(label), billingclient.UsageQuery{
		From: e.start.Add(-time.Hour), To: time.Now().Add(time.Hour), Granularity: "hour"})
	if err != nil {
		return contract.Counters{}, err
	}
	return s.Total, nil
}

// mustBilled is billed failing the test on error.
func (e *env) mustBilled(label string) contract.Counters {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := e.billed(ctx, label)
	if err != nil {
		e.t.Fatalf("usage of %s: %v", label, err)
	}
	return c
}

// agentLogs returns the last n lines of every agent's log (for failure
// messages that must show what the agents said).
func (e *env) agentLogs(n int) string { return e.c.LogTails(n) }
