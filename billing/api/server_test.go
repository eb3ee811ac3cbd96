package api

import (
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/tier"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
	"github.com/aerolithdb/aerolith/store"
)

func TestTenantLifecycle(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	if acme.ID == "" || acme.Tier != "starter" || acme.Status != ledger.StatusActive {
		t.Fatalf("created tenant = %+v", acme)
	}
	path := "/api/v1/tenants/" + acme.ID

	var got ledger.Tenant
	e.want(200, "GET", path, adminKey, nil, &got)
	if got.ID != acme.ID || got.Email != "billing@acme.example" {
		t.Fatalf("GET = %+v", got)
	}

	var page ledger.TenantPage
	e.tenant("globex", "free")
	e.want(200, "GET", "/api/v1/tenants?limit=1", adminKey, nil, &page)
	if page.Total != 2 || len(page.Tenants) != 1 || page.Limit != 1 {
		t.Fatalf("list limit=1 = %+v", page)
	}

	e.want(200, "PATCH", path, adminKey, map[string]string{"name": "ACME"}, &got)
	if got.Name != "ACME" || got.Tier != "starter" {
		t.Fatalf("PATCH name = %+v", got)
	}
	e.clock.Set(e.clock.Now().Add(time.Hour))
	e.want(200, "PATCH", path, adminKey, map[string]string{"tier": "professional"}, &got)
	if got.Tier != "professional" || len(got.TierHistory) != 2 {
		t.Fatalf("PATCH tier = %+v", got)
	}

	e.want(200, "POST", path+"/suspend", adminKey, map[string]string{"reason": "fraud check"}, &got)
	if got.Status != ledger.StatusSuspended || got.SuspendReason != "fraud check" {
		t.Fatalf("suspend = %+v", got)
	}
	e.want(200, "POST", path+"/resume", adminKey, nil, &got)
	if got.Status != ledger.StatusActive {
		t.Fatalf("resume = %+v", got)
	}
	if r := e.want(409, "POST", path+"/resume", adminKey, nil, nil); r.errCode() != jsonapi.CodeFailedPrecondition {
		t.Fatalf("resume active: code %q, want %q", r.errCode(), jsonapi.CodeFailedPrecondition)
	}

	var audit auditBody
	e.want(200, "GET", path+"/audit", adminKey, nil, &audit)
	var actions []string
	for _, a := range audit.Entries {
		actions = append(actions, a.Action)
		if !strings.HasPrefix(a.Actor, "admin:") {
			t.Errorf("audit actor %q, want admin:<fingerprint>", a.Actor)
		}
	}
	joined := strings.Join(actions, ",")
	for _, want := range []string{"tenant.created", "tenant.suspended", "tenant.resumed"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit actions %s lack %s", joined, want)
		}
	}
	e.want(200, "GET", path+"/audit?limit=1", adminKey, nil, &audit)
	if len(audit.Entries) != 1 || audit.Next != audit.Entries[0].Seq {
		t.Fatalf("audit page of 1 = %+v", audit)
	}

	e.want(200, "DELETE", path, adminKey, nil, &got)
	if got.Status != ledger.StatusDeleted {
		t.Fatalf("delete = %+v", got)
	}
	e.want(200, "GET", "/api/v1/tenants", adminKey, nil, &page)
	if page.Total != 1 {
		t.Fatalf("list after delete: total %d, want 1", page.Total)
	}
	e.want(200, "GET", "/api/v1/tenants?include_deleted=true", adminKey, nil, &page)
	if page.Total != 2 {
		t.Fatalf("list include_deleted: total %d, want 2", page.Total)
	}
	e.want(404, "GET", "/api/v1/tenants/tn_nope", adminKey, nil, nil)
}

func TestTenantBadInput(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	tests := []struct {
		name, method, path string
		body               any
		status             int
		inMessage          string
	}{
		{"unknown tier", "POST", "/api/v1/tenants", map[string]string{"organization": "o", "name": "n", "tier": "gold", "email": "a@b.example"}, 400, "tier"},
		{"missing email", "POST", "/api/v1/tenants", map[string]string{"organization": "o", "name": "n", "tier": "free"}, 400, "email"},
		{"unknown field", "POST", "/api/v1/tenants", map[string]string{"organization": "o", "name": "n", "tier": "free", "email": "a@b.example", "plan": "x"}, 400, "plan"},
		{"not json", "POST", "/api/v1/tenants", "{", 400, "JSON"},
		{"empty patch", "PATCH", "/api/v1/tenants/" + acme.ID, "{}", 400, "at least one"},
		{"patch unknown tier", "PATCH", "/api/v1/tenants/" + acme.ID, map[string]string{"tier": "gold"}, 400, "gold"},
		{"bad limit", "GET", "/api/v1/tenants?limit=x", nil, 400, "limit"},
		{"bad include_deleted", "GET", "/api/v1/tenants?include_deleted=maybe", nil, 400, "include_deleted"},
		{"bad consistency", "GET", "/api/v1/tenants?consistency=eventual", nil, 400, "consistency"},
		{"suspend bad body", "POST", "/api/v1/tenants/" + acme.ID + "/suspend", `{"why":"x"}`, 400, "why"},
		{"audit bad after", "GET", "/api/v1/tenants/" + acme.ID + "/audit?after=-1", nil, 400, "after"},
		{"suspend unknown", "POST", "/api/v1/tenants/tn_nope/suspend", nil, 404, "tn_nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, adminKey, tc.body)
			if r.status != tc.status || !strings.Contains(r.errMsg(), tc.inMessage) {
				t.Fatalf("%s %s = %d %s, want %d mentioning %q", tc.method, tc.path, r.status, r.body, tc.status, tc.inMessage)
			}
		})
	}
}

func TestRoutingAndLimits(t *testing.T) {
	e := newEnv(t)
	if r := e.do("PUT", "/api/v1/tenants", adminKey, nil); r.status != 405 || !strings.Contains(r.header.Get("Allow"), "POST") {
		t.Fatalf("PUT /tenants = %d Allow %q, want 405 with Allow", r.status, r.header.Get("Allow"))
	}
	if r := e.do("GET", "/api/v1/nothing", adminKey, nil); r.status != 404 || r.errCode() != jsonapi.CodeNotFound {
		t.Fatalf("unknown route = %d %s", r.status, r.body)
	}
	big := `{"organization":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`
	if r := e.do("POST", "/api/v1/tenants", adminKey, big); r.status != 413 {
		t.Fatalf("huge body = %d %s, want 413", r.status, r.body)
	}
	if r := e.do("GET", "/health", "", nil); r.status != 200 {
		t.Fatalf("/health = %d", r.status)
	}
	if r := e.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Fatalf("/readyz = %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/metrics", "", nil); r.status != 401 {
		t.Fatalf("/metrics without key = %d, want 401", r.status)
	}
	e.tenant("acme", "free")
	r := e.want(200, "GET", "/metrics", adminKey, nil, nil)
	if !strings.Contains(string(r.body), `aerolith_billing_http_requests_total{code="201",method="POST",route="/api/v1/tenants"}`) {
		t.Fatalf("/metrics lacks the request counter by route pattern:\n%.2000s", r.body)
	}
	var self jsonapi.StartingBody
	e.want(200, "GET", "/api/v1/cluster/self", "", nil, &self)
	if self.NodeID != "n0" || self.RaftAddr == "" {
		t.Fatalf("cluster/self = %+v", self)
	}
	var reps jsonapi.ClusterBody
	e.want(200, "GET", "/api/v1/cluster", adminKey, nil, &reps)
	if len(reps.Members) != 1 || !reps.Members[0].Leader || reps.LeaderID != reps.NodeID {
		t.Fatalf("cluster = %+v", reps)
	}
}

func TestPricing(t *testing.T) {
	e := newEnv(t)
	var cat tier.Catalog
	e.want(200, "GET", "/api/v1/payment/pricing", adminKey, nil, &cat)
	if got, want := strings.Join(cat.Names(), ","), strings.Join(tier.Defaults().Names(), ","); got != want {
		t.Fatalf("pricing tiers = %s, want %s", got, want)
	}
	starter, _ := cat.Get("starter")
	if starter.BasePrice != tier.Dollars(10) {
		t.Fatalf("starter base price = %s, want 10.00", starter.BasePrice)
	}
	// Each tier says what happens at a limit: starter's 10 req/s is no cap.
	var raw struct {
		Tiers []struct {
			Name        string `json:"name"`
			QuotaAction string `json:"quota_action"`
			Description string `json:"quota_action_description"`
		} `json:"tiers"`
	}
	e.want(200, "GET", "/api/v1/payment/pricing", adminKey, nil, &raw)
	for _, tr := range raw.Tiers {
		want := map[string]string{"free": "block", "starter": "allow_with_overage", "professional": "allow_with_overage", "enterprise": "allow_with_overage"}[tr.Name]
		if tr.QuotaAction != want || tr.Description == "" {
			t.Errorf("pricing tier %s: quota action %q (%q), want %q with a description", tr.Name, tr.QuotaAction, tr.Description, want)
		}
		if want == "allow_with_overage" && !strings.Contains(tr.Description, "Aerolith-Quota-Warning") {
			t.Errorf("pricing tier %s: description %q does not name the warning header", tr.Name, tr.Description)
		}
	}
}

func TestClustersAndPolicy(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	globex := e.tenant("globex", "free")
	cl := e.cluster("cl-1", acme.ID)
	if cl.ClusterID != "cl-1" || !strings.HasPrefix(cl.EnrollmentToken, enrollmentTokenPrefix) {
		t.Fatalf("register = %+v", cl)
	}
	var gen clusterOut
	e.want(201, "POST", "/api/v1/clusters", adminKey, map[string]any{"tenants": []string{globex.ID}}, &gen)
	if !strings.HasPrefix(gen.ClusterID, "cl_") || gen.EnrollmentToken == cl.EnrollmentToken {
		t.Fatalf("generated registration = %+v", gen)
	}
	for _, tc := range []struct {
		body   any
		status int
	}{
		{map[string]any{"tenants": []string{}}, 400},
		{map[string]any{"tenants": []string{"tn_missing"}}, 400},
		{map[string]any{"cluster_id": "cl-1", "tenants": []string{acme.ID}}, 409},
		{map[string]any{"cluster_id": "bad id", "tenants": []string{acme.ID}}, 400},
	} {
		if r := e.do("POST", "/api/v1/clusters", adminKey, tc.body); r.status != tc.status {
			t.Errorf("register %v = %d %s, want %d", tc.body, r.status, r.body, tc.status)
		}
	}

	var pk publicKeyOut
	e.want(200, "GET", "/api/v1/policy/public-key", cl.EnrollmentToken, nil, &pk)
	var sp contract.SignedPolicy
	e.want(200, "GET", "/api/v1/tenants/"+acme.ID+"/policy", cl.EnrollmentToken, nil, &sp)
	pol, err := contract.VerifyPolicy(sp, ed25519.PublicKey(pk.PublicKey))
	if err != nil {
		t.Fatalf("verify policy: %v", err)
	}
	if pol.Tenant != acme.ID || pol.Tier != "starter" || pol.Status != contract.StatusActive {
		t.Fatalf("policy = %+v", pol)
	}
	// The cluster sees only the tenants it serves.
	e.want(404, "GET", "/api/v1/tenants/"+globex.ID+"/policy", cl.EnrollmentToken, nil, nil)
	var c2 clusterOut
	e.want(200, "GET", "/api/v1/clusters/cl-1", cl.EnrollmentToken, nil, &c2)
	if c2.EnrollmentToken != "" {
		t.Fatal("GET cluster leaks the enrollment token")
	}
	e.want(404, "GET", "/api/v1/clusters/"+gen.ClusterID, cl.EnrollmentToken, nil, nil)

	// Nodes register with their cluster's token, idempotently, and show in
	// the cluster record.
	node := map[string]string{"node_id": "node-a", "http_addr": "10.0.0.1:7070", "raft_addr": "10.0.0.1:7071"}
	var n ledger.Node
	e.want(200, "POST", "/api/v1/clusters/cl-1/nodes", cl.EnrollmentToken, node, &n)
	if n.ID != "node-a" || n.HTTPAddr != "10.0.0.1:7070" || !n.LastSeen.Equal(e.clock.Now()) {
		t.Fatalf("register node = %+v", n)
	}
	e.clock.Set(e.clock.Now().Add(time.Minute))
	node["http_addr"] = "10.0.0.2:7070"
	e.want(200, "POST", "/api/v1/clusters/cl-1/nodes", cl.EnrollmentToken, node, &n)
	if n.HTTPAddr != "10.0.0.2:7070" || !n.LastSeen.Equal(e.clock.Now()) || n.RegisteredAt.Equal(n.LastSeen) {
		t.Fatalf("re-register node = %+v", n)
	}
	e.want(200, "GET", "/api/v1/clusters/cl-1", adminKey, nil, &c2)
	if len(c2.Nodes) != 1 || c2.Nodes[0].HTTPAddr != "10.0.0.2:7070" {
		t.Fatalf("cluster nodes = %+v", c2.Nodes)
	}
	// Another cluster's token, bad bodies.
	e.want(404, "POST", "/api/v1/clusters/"+gen.ClusterID+"/nodes", cl.EnrollmentToken, node, nil)
	for _, tc := range []struct {
		body any
		msg  string
	}{
		{map[string]string{"node_id": "bad id", "http_addr": "h:1", "raft_addr": "h:2"}, "node_id"},
		{map[string]string{"node_id": "n", "http_addr": "h", "raft_addr": "h:2"}, "http_addr"},
		{map[string]string{"node_id": "n", "http_addr": "h:1"}, "raft_addr: required"},
		{map[string]string{"node_id": "n", "http_addr": "h:1", "raft_addr": "h:2", "x": "y"}, "x: unknown field"},
	} {
		if r := e.do("POST", "/api/v1/clusters/cl-1/nodes", cl.EnrollmentToken, tc.body); r.status != 400 || !strings.Contains(r.errMsg(), tc.msg) {
			t.Errorf("register node %v = %d %s, want 400 mentioning %q", tc.body, r.status, r.body, tc.msg)
		}
	}

	// A revoked agent key shows in the signed policy (idempotently).
	for range 2 {
		var ten ledger.Tenant
		e.want(200, "DELETE", "/api/v1/tenants/"+acme.ID+"/agent-keys/0123456789abcdef", adminKey, nil, &ten)
		if len(ten.RevokedAgentKeys) != 1 || ten.RevokedAgentKeys[0] != "0123456789abcdef" {
			t.Fatalf("revoke agent key = %+v", ten.RevokedAgentKeys)
		}
	}
	e.want(200, "GET", "/api/v1/tenants/"+acme.ID+"/policy", cl.EnrollmentToken, nil, &sp)
	if pol, err = contract.VerifyPolicy(sp, ed25519.PublicKey(pk.PublicKey)); err != nil || len(pol.RevokedAgentKeys) != 1 {
		t.Fatalf("policy after revoking an agent key = %+v, %v", pol, err)
	}
	e.want(400, "DELETE", "/api/v1/tenants/"+acme.ID+"/agent-keys/bad%20id", adminKey, nil, nil)
	e.want(404, "DELETE", "/api/v1/tenants/tn_nope/agent-keys/0123456789abcdef", adminKey, nil, nil)

	// Suspension shows in the signed policy.
	e.want(200, "POST", "/api/v1/tenants/"+acme.ID+"/suspend", adminKey, nil, nil)
	e.want(200, "GET", "/api/v1/tenants/"+acme.ID+"/policy", adminKey, nil, &sp)
	if pol, err = contract.VerifyPolicy(sp, ed25519.PublicKey(pk.PublicKey)); err != nil || pol.Status != contract.StatusSuspended {
		t.Fatalf("policy after suspend = %+v, %v", pol, err)
	}
}

// usageRecord is a record in the wire format of ledger.DecodeUsageBatch.
func usageRecord(node string, seq int, tenant string, start time.Time, reads int) map[string]any {
	return map[string]any{
		"node_id": node, "seq": seq, "tenant_id": tenant,
		"start": start.Format(time.RFC3339), "end": start.Add(time.Minute).Format(time.RFC3339),
		"reads": reads, "writes": 1,
	}
}

func TestUsageIngestion(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	globex := e.tenant("globex", "starter")
	cl := e.cluster("cl-1", acme.ID)
	start := e.clock.Now().Truncate(time.Hour)

	batch := map[string]any{"records": []any{
		usageRecord("n1", 1, acme.ID, start, 10),
		usageRecord("n1", 2, acme.ID, start.Add(time.Minute), 20),
		usageRecord("n1", 3, globex.ID, start, 5), // not served by the cluster
	}}
	var res ledger.IngestResult
	var wire struct {
		Accepted, Duplicates, Rejected int
		Records                        []struct {
			Status string `json:"status"`
			Code   string `json:"code"`
			Reason string `json:"reason"`
		} `json:"records"`
	}
	r := e.want(200, "POST", "/api/v1/usage", cl.EnrollmentToken, batch, &wire)
	if wire.Accepted != 2 || wire.Rejected != 1 || wire.Records[2].Status != "rejected" || wire.Records[2].Code != jsonapi.CodePermissionDenied || !strings.Contains(wire.Records[2].Reason, globex.ID) {
		t.Fatalf("first batch = %s", r.body)
	}
	// Resending is idempotent: duplicates, counted once.
	e.want(200, "POST", "/api/v1/usage", cl.EnrollmentToken, batch, &wire)
	if wire.Duplicates != 3 || wire.Accepted != 0 {
		t.Fatalf("resent batch = %+v", wire)
	}
	_ = res

	e.want(403, "POST", "/api/v1/usage", cl.EnrollmentToken, map[string]any{"cluster_id": "cl-other", "records": batch["records"]}, nil)
	e.want(403, "POST", "/api/v1/usage", adminKey, batch, nil)
	if r := e.do("POST", "/api/v1/usage", cl.EnrollmentToken, `{"records":[]}`); r.status != 400 || !strings.Contains(r.errMsg(), "records") {
		t.Fatalf("empty batch = %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/usage", cl.EnrollmentToken, `{"records":[{"node_id":"n1","seq":9,"tenant_id":"x","start":"yesterday","end":"now"}]}`); r.status != 400 || !strings.Contains(r.errMsg(), "records[0].start") {
		t.Fatalf("bad time = %d %s", r.status, r.body)
	}

	var series ledger.UsageSeries
	q := fmt.Sprintf("/api/v1/tenants/%s/usage?from=%s&to=%s&granularity=hour", acme.ID, start.Format(time.RFC3339), start.Add(2*time.Hour).Format(time.RFC3339))
	e.want(200, "GET", q, adminKey, nil, &series)
	if series.Total.Reads != 30 || series.Total.Writes != 2 || len(series.Points) != 2 || series.Points[0].Reads != 30 {
		t.Fatalf("usage series = %+v", series)
	}
	e.want(200, "GET", "/api/v1/tenants/"+acme.ID+"/usage?granularity=day&from=2026-01-01&to=2026-01-31", adminKey, nil, &series)
	if series.Total.Reads != 30 || len(series.Points) != 30 {
		t.Fatalf("daily series: total %d reads over %d points", series.Total.Reads, len(series.Points))
	}
	e.want(400, "GET", "/api/v1/tenants/"+acme.ID+"/usage?granularity=week", adminKey, nil, nil)
	e.want(400, "GET", "/api/v1/tenants/"+acme.ID+"/usage?from=soon", adminKey, nil, nil)
}

// closeDrafts closes every period ended by at, like the scheduler.
func (e *env) closeDrafts(at time.Time) []ledger.Invoice {
	e.t.Helper()
	var due []ledger.DraftDue
	err := e.st.View(context.Background(), store.Linearizable, func(tx *bolt.Tx) error {
		var err error
		due, err = ledger.DueForDraft(tx, at, ledger.Cycle{})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []ledger.Invoice
	for _, d := range due {
		res := e.propose(d.Command(ledger.Header{Time: at.UnixNano(), Actor: "scheduler"}))
		out = append(out, *res.Invoice)
	}
	return out
}

func TestInvoicesAndPayments(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "starter")
	globex := e.tenant("globex", "starter")
	cl := e.cluster("cl-1", acme.ID)
	e.want(200, "POST", "/api/v1/usage", cl.EnrollmentToken, map[string]any{"records": []any{
		usageRecord("n1", 1, acme.ID, e.clock.Now().Truncate(time.Hour), 2_000_000),
	}}, nil)

	feb := time.Date(2026, 2, 1, 0, 0, 1, 0, time.UTC)
	e.clock.Set(feb)
	drafts := e.closeDrafts(feb)
	if len(drafts) != 2 {
		t.Fatalf("closed %d drafts, want 2", len(drafts))
	}
	var inv ledger.Invoice
	for _, d := range drafts {
		if d.Tenant == acme.ID {
			inv = d
		}
	}
	path := "/api/v1/invoices/" + inv.ID

	var list invoicesBody
	e.want(200, "GET", "/api/v1/invoices", adminKey, nil, &list)
	if len(list.Invoices) != 2 {
		t.Fatalf("list all = %d invoices, want 2", len(list.Invoices))
	}
	e.want(200, "GET", "/api/v1/invoices?tenant_id="+acme.ID+"&status=draft", adminKey, nil, &list)
	if len(list.Invoices) != 1 || list.Invoices[0].ID != inv.ID {
		t.Fatalf("list acme drafts = %+v", list.Invoices)
	}
	e.want(400, "GET", "/api/v1/invoices?status=late", adminKey, nil, nil)
	// One tenant's list says when its open period ends (the test env
	// bills calendar months).
	e.want(200, "GET", "/api/v1/invoices?tenant_id="+acme.ID, adminKey, nil, &list)
	if p := list.CurrentPeriod; list.BillingPeriod != "month" || p == nil || p.First || !p.Start.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) ||
		!p.End.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("list of acme: period %q, current %+v", list.BillingPeriod, list.CurrentPeriod)
	}

	var fin ledger.Invoice
	e.want(200, "POST", path+"/finalize", adminKey, nil, &fin)
	if fin.Status != ledger.InvoiceOpen || !fin.DueAt.Equal(feb.Add(14*24*time.Hour)) {
		t.Fatalf("finalized = status %s due %s", fin.Status, fin.DueAt)
	}
	var sum int64
	var overage bool
	for _, l := range fin.Lines {
		sum += l.Cents
		overage = overage || (l.Kind == "overage" && l.Meter == tier.Reads)
	}
	if !overage || sum != fin.TotalCents || fin.TotalCents <= 0 {
		t.Fatalf("finalized lines %+v: sum %d, total %d, want a reads overage line and total = sum", fin.Lines, sum, fin.TotalCents)
	}
	e.want(200, "POST", path+"/finalize", adminKey, nil, &inv) // idempotent
	if inv.FinalizedAt != fin.FinalizedAt {
		t.Fatal("second finalize changed the invoice")
	}

	r := e.want(200, "GET", path+"?format=csv", adminKey, nil, nil)
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil || len(rows) != len(fin.Lines)+1 || rows[0][0] != "invoice_id" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv = %v rows, %v:\n%s", len(rows), err, r.body)
	}
	r = e.want(200, "GET", path+"?format=html", adminKey, nil, nil)
	if !strings.Contains(string(r.body), "acme Inc") || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("html lacks the bill-to organization:\n%.1000s", r.body)
	}
	e.want(400, "GET", path+"?format=pdf", adminKey, nil, nil)

	var pay paymentOut
	e.want(201, "POST", path+"/payments", adminKey, map[string]any{"amount_cents": 100, "external_ref": "wire-1"}, &pay)
	if pay.Invoice.AmountPaidCents != 100 || pay.Invoice.Status != contract.InvoiceOpen || pay.Payment.Method != "manual" {
		t.Fatalf("partial payment = %+v / %+v", pay.Payment, pay.Invoice)
	}
	if r := e.do("POST", path+"/payments", adminKey, map[string]any{"amount_cents": 100, "external_ref": "wire-1"}); r.status != 409 || !strings.Contains(r.errMsg(), "wire-1") {
		t.Fatalf("reused external_ref = %d %s, want 409", r.status, r.body)
	}
	for _, body := range []string{`{"amount_cents":0,"external_ref":"x"}`, `{"amount_cents":5}`, `{"amount_cents":5,"external_ref":"x","method":"card"}`, `{"amount_cents":"5","external_ref":"x"}`} {
		if r := e.do("POST", path+"/payments", adminKey, body); r.status != 400 {
			t.Errorf("payment %s = %d %s, want 400", body, r.status, r.body)
		}
	}
	// More than is due needs "credit": true; the refusal names both figures.
	if r := e.do("POST", path+"/payments", adminKey, map[string]any{"amount_cents": 100_000_000_000, "external_ref": "wire-2"}); r.status != 400 ||
		!strings.Contains(r.errMsg(), fmt.Sprintf("100000000000 is more than the %d due", fin.TotalCents-100)) {
		t.Fatalf("overpayment without credit = %d %s, want 400", r.status, r.body)
	}
	e.want(201, "POST", path+"/payments", adminKey, map[string]any{"amount_cents": fin.TotalCents, "external_ref": "wire-2", "method": "admin", "credit": true}, &pay)
	if pay.Invoice.Status != contract.InvoicePaid || pay.Payment.CreditedCents != 100 {
		t.Fatalf("overpayment = %+v / %+v", pay.Payment, pay.Invoice)
	}
	var pays paymentsBody
	e.want(200, "GET", "/api/v1/tenants/"+acme.ID+"/payments", adminKey, nil, &pays)
	if len(pays.Payments) != 2 {
		t.Fatalf("payments = %d, want 2", len(pays.Payments))
	}
	var ten ledger.Tenant
	e.want(200, "GET", "/api/v1/tenants/"+acme.ID, adminKey, nil, &ten)
	if ten.CreditCents != 100 {
		t.Fatalf("credit = %d, want 100", ten.CreditCents)
	}
	if r := e.want(409, "POST", path+"/void", adminKey, map[string]string{"reason": "x"}, nil); r.errCode() != jsonapi.CodeFailedPrecondition {
		t.Fatalf("void paid: code %q", r.errCode())
	}

	// globex: void a draft, write off nothing.
	gpath := "/api/v1/invoices/" + ledger.InvoiceID(globex.ID, globex.CreatedAt)
	e.want(200, "POST", gpath+"/void", adminKey, map[string]string{"reason": "goodwill"}, &inv)
	if inv.Status != ledger.InvoiceVoid || inv.StatusReason != "goodwill" {
		t.Fatalf("void = %+v", inv)
	}
	e.want(409, "POST", gpath+"/uncollectible", adminKey, nil, nil)
	e.want(404, "POST", "/api/v1/invoices/in_nope/finalize", adminKey, nil, nil)
	e.want(400, "POST", path+"/finalize", adminKey, `{"due_at":"tomorrow"}`, nil)
}

func TestStoreUnavailable(t *testing.T) {
	e := newEnv(t)
	acme := e.tenant("acme", "free")
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/api/v1/tenants/"+acme.ID+"?consistency=stale", adminKey, nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || r.errCode() != jsonapi.CodeUnavailable {
		t.Fatalf("closed store = %d %s (Retry-After %q)", r.status, r.body, r.header.Get("Retry-After"))
	}
}
