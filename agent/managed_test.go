package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/config"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/service"
	"github.com/aerolithdb/aerolith/billing/service/servicetest"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/store/storetest"
)

const billingAdminKey = "agent-test-billing-admin-key"

// billingEnv is an in-process billing replica with two tenants and a
// cluster registered for both.
type billingEnv struct {
	svc      *service.Service
	url      string
	admin    *billingclient.Client
	a, b     contract.Tenant
	cluster  billingclient.Enrollment
	dataDir  string
	httpAddr string
}

func startBilling(t *testing.T) *billingEnv {
	t.Helper()
	e := &billingEnv{dataDir: t.TempDir()}
	e.open(t, "127.0.0.1:0")
	ctx := context.Background()
	var err error
	if e.a, err = e.admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "A", Name: "a", Tier: "starter", Email: "a@a.example"}); err != nil {
		t.Fatal(err)
	}
	if e.b, err = e.admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "B", Name: "b", Tier: "starter", Email: "b@b.example"}); err != nil {
		t.Fatal(err)
	}
	if e.cluster, err = e.admin.RegisterCluster(ctx, "", []string{e.a.ID, e.b.ID}); err != nil {
		t.Fatal(err)
	}
	return e
}

// open starts (or restarts) the replica on httpAddr.
func (e *billingEnv) open(t *testing.T, httpAddr string) {
	t.Helper()
	cfg := service.Default()
	cfg.InsecureHTTP = true // plain HTTP in-process
	cfg.DataDir, cfg.HTTPAddr, cfg.RaftAddr = e.dataDir, httpAddr, "127.0.0.1:0"
	cfg.AdminKeys = []string{billingAdminKey}
	cfg.ScheduleInterval = time.Second
	cfg.UsageBucket = time.Minute
	svc, err := service.New(cfg, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	servicetest.Tune(svc, storetest.FastConfig)
	if err := svc.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	e.svc, e.httpAddr, e.url = svc, svc.HTTPAddr(), "http://"+svc.HTTPAddr()
	if e.admin, err = billingclient.New(billingclient.Config{URL: e.url, Key: billingAdminKey}); err != nil {
		t.Fatal(err)
	}
	storetest.Eventually(t, waitLimit, func() error { _, _, err := e.admin.PublicKey(context.Background()); return err })
}

// managedConfig is an agent configuration enrolled with e.
func managedConfig(t *testing.T, e *billingEnv, dir string) config.Config {
	t.Helper()
	c := config.Default()
	c.InsecureHTTP = true // plain HTTP in-process
	c.DataDir = dir
	c.RaftAddr, c.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.AdminKey = testKey
	c.BillingURL, c.EnrollmentToken = e.url, e.cluster.EnrollmentToken
	c.MeterWindow, c.PolicyRefresh = time.Second, time.Second
	return c
}

// callAs sends a request with key and decodes the JSON answer into out.
func callAs(t *testing.T, key, method, url, body string, out any) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, b, err)
		}
	}
	return res.StatusCode, string(b)
}

func openAgent(t *testing.T, c config.Config) *Agent {
	t.Helper()
	a, err := New(c, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := a.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestManagedCluster(t *testing.T) {
	e := startBilling(t)
	ports := freePorts(t, 3)
	agents := make([]*Agent, 3)
	var wg sync.WaitGroup
	for i := range agents {
		c := managedConfig(t, e, filepath.Join(t.TempDir(), fmt.Sprint(i)))
		c.NodeID = fmt.Sprintf("node%d", i+1)
		c.RaftAddr, c.BootstrapExpect, c.Join = ports[i], 3, ports
		a, err := New(c, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		agents[i] = a
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			if err := a.Open(ctx); err != nil {
				t.Errorf("open agent %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	for _, a := range agents {
		t.Cleanup(func() { a.Close() })
	}
	if t.Failed() {
		t.FailNow()
	}
	url := func(i int, path string) string { return "http://" + agents[i].HTTPAddr() + path }
	for i := range agents {
		testwait.Until(t, waitLimit, fmt.Sprintf("node%d ready (enrolled, policies in force)", i+1), func() bool {
			return call(t, "GET", url(i, "/readyz"), "", nil) == 200
		})
	}

	// Every node registered itself with billing.
	ctx := context.Background()
	storetest.Eventually(t, waitLimit, func() error {
		cl, err := e.admin.GetCluster(ctx, e.cluster.ClusterID)
		if err != nil {
			return err
		}
		if len(cl.Nodes) != 3 {
			return fmt.Errorf("%d nodes registered", len(cl.Nodes))
		}
		for i, n := range cl.Nodes {
			if n.ID != agents[i].NodeID() || n.HTTPAddr != agents[i].HTTPAddr() || n.RaftAddr != agents[i].RaftAddr() {
				return fmt.Errorf("node %d = %+v", i, n)
			}
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(agents[0].cfg.DataDir, enrollmentFile)); err != nil {
		t.Fatalf("enrollment not stored: %v", err)
	}

	// Keys: for the cluster's tenants only; a tenant key reaches its tenant.
	var ka, kb struct{ ID, Key string }
	if st, body := callAs(t, testKey, "POST", url(0, "/api/v1/keys"), `{"tenant":"`+e.a.ID+`","role":"readwrite","name":"a"}`, &ka); st != 201 || ka.Key == "" {
		t.Fatalf("create key = %d %s", st, body)
	}
	if st, body := callAs(t, testKey, "POST", url(1, "/api/v1/keys"), `{"tenant":"`+e.b.ID+`","role":"readwrite"}`, &kb); st != 201 {
		t.Fatalf("create key = %d %s", st, body)
	}
	if st, body := callAs(t, testKey, "POST", url(0, "/api/v1/keys"), `{"tenant":"tn_other","role":"read"}`, nil); st != 400 || !strings.Contains(body, "not served by this cluster") {
		t.Fatalf("key for a tenant the cluster does not serve = %d %s", st, body)
	}
	const puts = 5
	for n := range puts {
		testwait.Until(t, waitLimit, "tenant write accepted", func() bool {
			st, _ := callAs(t, ka.Key, "PUT", url(n%3, fmt.Sprintf("/api/v1/collections/c/documents/d%d", n)), `{"data":{"n":1}}`, nil)
			return st == 201
		})
	}
	if st, _ := callAs(t, kb.Key, "GET", url(2, "/api/v1/collections/c/documents/d0"), "", nil); st != 404 {
		t.Fatalf("tenant B reads tenant A's document: %d", st)
	}
	for i := range 3 {
		if st, body := callAs(t, ka.Key, "GET", url(i, "/api/v1/collections/c/documents/d1?consistency=linearizable"), "", nil); st != 200 {
			t.Fatalf("read on node%d = %d %s", i+1, st, body)
		}
	}

	// What was served is billed: 5 writes and 3 reads of tenant A (the
	// 404 above is B's read, metered for B), and A's stored bytes.
	storetest.Eventually(t, waitLimit, func() error {
		s, err := e.admin.Usage(ctx, e.a.ID, billingclient.UsageQuery{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), Granularity: "hour"})
		if err != nil {
			return err
		}
		if s.Total.Writes != puts || s.Total.Reads != 3 || s.Total.StorageByteSeconds == 0 {
			return fmt.Errorf("tenant A billed %+v, want %d writes, 3 reads, storage > 0", s.Total, puts)
		}
		return nil
	})

	// /metrics (cluster admin only in managed mode) shows the managed
	// figures, without tenant labels.
	storetest.Eventually(t, waitLimit, func() error {
		st, body := callAs(t, testKey, "GET", url(0, "/metrics"), "", nil)
		if st != 200 {
			return fmt.Errorf("/metrics = %d", st)
		}
		for _, want := range []string{"aerolith_billing_enrolled 1", "aerolith_billing_node_registered 1", "aerolith_tenants 2", "aerolith_policies 2", "aerolith_quota_live_nodes 3", "aerolith_meter_outbox_records", "aerolith_meter_records_acked_total", "aerolith_meter_dead_letters 0", "aerolith_meter_ready 1", "aerolith_meter_held_usages 0", "aerolith_meter_journal_corrupt_records_total 0"} {
			if !strings.Contains(body, want) {
				return fmt.Errorf("/metrics lacks %q", want)
			}
		}
		if strings.Contains(body, e.a.ID) || strings.Contains(body, e.b.ID) {
			return fmt.Errorf("/metrics names a tenant")
		}
		return nil
	})
	if st, _ := callAs(t, ka.Key, "GET", url(0, "/metrics"), "", nil); st != 403 {
		t.Fatalf("/metrics with a tenant key = %d, want 403", st)
	}

	// Revocation through raft: refused on every node.
	if st, body := callAs(t, testKey, "DELETE", url(2, "/api/v1/keys/"+ka.ID), "", nil); st != 200 {
		t.Fatalf("revoke = %d %s", st, body)
	}
	for i := range 3 {
		testwait.Until(t, waitLimit, fmt.Sprintf("revoked key refused on node%d", i+1), func() bool {
			st, _ := callAs(t, ka.Key, "GET", url(i, "/api/v1/collections/c/documents/d1"), "", nil)
			return st == 401
		})
	}

	// Suspension in billing reaches every node within a refresh: reads
	// work, writes get 402.
	if _, err := e.admin.SuspendTenant(ctx, e.b.ID, "test"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		testwait.Until(t, waitLimit, fmt.Sprintf("suspension on node%d", i+1), func() bool {
			st, _ := callAs(t, kb.Key, "PUT", url(i, "/api/v1/collections/c/documents/x"), `{"data":{}}`, nil)
			return st == 402
		})
		if st, body := callAs(t, kb.Key, "GET", url(i, "/api/v1/collections/c/documents?consistency=leader"), "", nil); st != 200 {
			t.Fatalf("suspended tenant read on node%d = %d %s", i+1, st, body)
		}
	}
}

// A managed agent restarted while billing is down knows its tenants and
// enforces the stored policies at once.
func TestManagedRestartDuringBillingOutage(t *testing.T) {
	e := startBilling(t)
	c := managedConfig(t, e, t.TempDir())
	a := openAgent(t, c)
	base := "http://" + a.HTTPAddr()
	testwait.Until(t, waitLimit, "ready", func() bool { return call(t, "GET", base+"/readyz", "", nil) == 200 })
	var k struct{ ID, Key string }
	if st, body := callAs(t, testKey, "POST", base+"/api/v1/keys", `{"tenant":"`+e.a.ID+`","role":"readwrite"}`, &k); st != 201 {
		t.Fatalf("create key = %d %s", st, body)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}

	b := openAgent(t, c)
	base = "http://" + b.HTTPAddr()
	testwait.Until(t, waitLimit, "ready without billing", func() bool { return call(t, "GET", base+"/readyz", "", nil) == 200 })
	if st, body := callAs(t, k.Key, "PUT", base+"/api/v1/collections/c/documents/1", `{"data":{"during":"outage"}}`, nil); st != 201 {
		t.Fatalf("write during the outage = %d %s", st, body)
	}
	// Usage waits in the outbox until billing is back.
	e.open(t, e.httpAddr)
	storetest.Eventually(t, waitLimit, func() error {
		s, err := e.admin.Usage(context.Background(), e.a.ID, billingclient.UsageQuery{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), Granularity: "hour"})
		if err != nil {
			return err
		}
		if s.Total.Writes != 1 {
			return fmt.Errorf("billed writes %d, want 1", s.Total.Writes)
		}
		return nil
	})
}

// An agent that never reached billing serves the admin its cluster routes,
// refuses key creation and says why it is not ready.
func TestManagedWithoutBilling(t *testing.T) {
	dead := freePorts(t, 1)[0]
	c := config.Default()
	c.InsecureHTTP = true // plain HTTP in-process
	c.DataDir = t.TempDir()
	c.RaftAddr, c.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.AdminKey = testKey
	c.BillingURL, c.EnrollmentToken = "http://"+dead, "aet_nothing"
	a := openAgent(t, c)
	base := "http://" + a.HTTPAddr()
	testwait.Until(t, waitLimit, "store ready", func() bool { return a.Store().Ready() })
	st, body := callAs(t, testKey, "GET", base+"/readyz", "", nil)
	if st != 503 || !strings.Contains(body, "not enrolled with billing yet") {
		t.Fatalf("/readyz = %d %s", st, body)
	}
	if st, body := callAs(t, testKey, "POST", base+"/api/v1/keys", `{"tenant":"t1","role":"read"}`, nil); st != 503 || !strings.Contains(body, `"not_ready"`) || !strings.Contains(body, "not enrolled with billing yet") {
		t.Fatalf("create key before enrollment = %d %s", st, body)
	}
	// The admin key manages the cluster; data is the tenants'.
	if st, body := callAs(t, testKey, "PUT", base+"/api/v1/collections/c/documents/1", `{"data":{}}`, nil); st != 403 || !strings.Contains(body, "use a tenant key") {
		t.Fatalf("admin write on a managed agent = %d %s, want 403 saying to use a tenant key", st, body)
	}
	if st, body := callAs(t, testKey, "GET", base+"/api/v1/cluster", "", nil); st != 200 {
		t.Fatalf("admin cluster view = %d %s", st, body)
	}
}
