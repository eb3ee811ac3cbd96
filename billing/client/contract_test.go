package client_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/store/storetest"
)

const adminKey = "client-contract-admin-key-0123456789"

// TestContract runs every client method against a real in-process billing
// replica (monthly period, so nothing is billed behind the test's back).
func TestContract(t *testing.T) {
	svc, admin := startService(t)
	url := "http://" + svc.HTTPAddr()
	ctx := context.Background()

	who, err := admin.WhoAmI(ctx)
	if err != nil || who.Kind != "admin" {
		t.Fatalf("WhoAmI = %+v, %v", who, err)
	}
	reps, err := admin.Replicas(ctx)
	if err != nil || len(reps.Members) != 1 || reps.Members[0].HTTPAddr != svc.HTTPAddr() {
		t.Fatalf("Replicas = %+v, %v", reps, err)
	}
	cat, err := admin.Pricing(ctx)
	if err != nil || len(cat.Tiers) != 4 {
		t.Fatalf("Pricing = %d tiers, %v", len(cat.Tiers), err)
	}

	ten, err := admin.CreateTenant(ctx, client.TenantRequest{Organization: "Acme", Name: "acme", Tier: "starter", Email: "ap@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateTenant(ctx, client.TenantRequest{Organization: "X", Name: "x", Tier: "gold", Email: "x@x.example"}); !client.IsInvalidArgument(err) || !strings.Contains(err.Error(), "gold") {
		t.Fatalf("unknown tier: %v", err)
	}
	name := "ACME"
	if ten, err = admin.UpdateTenant(ctx, ten.ID, client.TenantPatch{Name: &name}); err != nil || ten.Name != "ACME" {
		t.Fatalf("UpdateTenant = %+v, %v", ten, err)
	}
	if ten, err = admin.SetTier(ctx, ten.ID, "professional"); err != nil || ten.Tier != "professional" {
		t.Fatalf("SetTier = %+v, %v", ten, err)
	}
	if ten, err = admin.SuspendTenant(ctx, ten.ID, ""); err != nil || ten.SuspendReason != "manual" {
		t.Fatalf("SuspendTenant = %+v, %v", ten, err)
	}
	if ten, err = admin.ResumeTenant(ctx, ten.ID, "checked"); err != nil || ten.Status != contract.StatusActive {
		t.Fatalf("ResumeTenant = %+v, %v", ten, err)
	}
	if _, err := admin.ResumeTenant(ctx, ten.ID, ""); !client.IsConflict(err) {
		t.Fatalf("resume active: %v", err)
	}
	page, err := admin.ListTenants(ctx, client.ListTenantsOptions{Limit: 10})
	if err != nil || page.Total != 1 {
		t.Fatalf("ListTenants = %+v, %v", page, err)
	}

	key, err := admin.CreateKey(ctx, ten.ID, "dashboard")
	if err != nil || key.Key == "" {
		t.Fatalf("CreateKey = %+v, %v", key, err)
	}
	reader, err := client.New(client.Config{URL: url, Key: key.Key})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := reader.GetTenant(ctx, ten.ID); err != nil || got.ID != ten.ID {
		t.Fatalf("tenant key GetTenant = %+v, %v", got, err)
	}
	if _, err := reader.CreateTenant(ctx, client.TenantRequest{}); !client.IsPermissionDenied(err) {
		t.Fatalf("tenant key create: %v", err)
	}
	keys, err := admin.ListKeys(ctx, ten.ID)
	if err != nil || len(keys) != 1 || keys[0].Key != "" {
		t.Fatalf("ListKeys = %+v, %v", keys, err)
	}

	enr, err := admin.RegisterCluster(ctx, "cl-contract", []string{ten.ID})
	if err != nil || enr.EnrollmentToken == "" {
		t.Fatalf("RegisterCluster = %+v, %v", enr, err)
	}
	agent, err := client.New(client.Config{URL: url, Key: enr.EnrollmentToken})
	if err != nil {
		t.Fatal(err)
	}
	n, err := agent.RegisterNode(ctx, enr.ClusterID, "n1", "127.0.0.1:7070", "127.0.0.1:7071")
	if err != nil || n.ID != "n1" || n.RaftAddr != "127.0.0.1:7071" || n.LastSeen.IsZero() {
		t.Fatalf("RegisterNode = %+v, %v", n, err)
	}
	if _, err := agent.RegisterNode(ctx, "cl-other", "n1", "h:1", "h:2"); !client.IsNotFound(err) {
		t.Fatalf("RegisterNode for another cluster: %v", err)
	}
	if _, err := agent.RegisterNode(ctx, enr.ClusterID, "n1", "nope", "h:2"); !client.IsInvalidArgument(err) || !strings.Contains(err.Error(), "http_addr") {
		t.Fatalf("RegisterNode with a bad address: %v", err)
	}
	// A further enrollment token authenticates as the same cluster; the
	// first keeps working.
	enr2, err := admin.IssueEnrollmentToken(ctx, enr.ClusterID, false)
	if err != nil || enr2.ClusterID != enr.ClusterID || enr2.EnrollmentToken == "" || enr2.EnrollmentToken == enr.EnrollmentToken {
		t.Fatalf("IssueEnrollmentToken = %+v, %v", enr2, err)
	}
	agent2, err := client.New(client.Config{URL: url, Key: enr2.EnrollmentToken})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{agent, agent2} {
		if who, err := c.WhoAmI(ctx); err != nil || who.ClusterID != enr.ClusterID {
			t.Fatalf("whoami with an enrollment token = %+v, %v", who, err)
		}
	}
	if _, err := admin.IssueEnrollmentToken(ctx, "cl-unknown", false); !client.IsNotFound(err) {
		t.Fatalf("IssueEnrollmentToken of an unknown cluster: %v", err)
	}
	for _, cl := range []*client.Client{admin, agent} {
		got, err := cl.GetCluster(ctx, enr.ClusterID)
		if err != nil || len(got.Nodes) != 1 || got.Nodes[0].HTTPAddr != "127.0.0.1:7070" || got.EnrollmentToken != "" {
			t.Fatalf("GetCluster = %+v, %v", got, err)
		}
	}
	start := time.Now().Truncate(time.Hour)
	recs := []client.UsageRecord{{NodeID: "n1", Seq: 1, TenantID: ten.ID, Start: start, End: start.Add(time.Minute), Reads: 7, EgressBytes: 1000}}
	if res, err := agent.SendUsage(ctx, recs); err != nil || res.Accepted != 1 {
		t.Fatalf("SendUsage = %+v, %v", res, err)
	}
	if res, err := agent.SendUsage(ctx, recs); err != nil || res.Duplicates != 1 || res.Records[0].Status != client.RecordDuplicate {
		t.Fatalf("resend = %+v, %v", res, err)
	}
	series, err := reader.Usage(ctx, ten.ID, client.UsageQuery{From: start, To: start.Add(time.Hour), Granularity: "hour"})
	if err != nil || series.Total.Reads != 7 || series.Total.EgressBytes != 1000 {
		t.Fatalf("Usage = %+v, %v", series.Total, err)
	}
	pol, err := agent.VerifiedPolicy(ctx, ten.ID)
	if err != nil || pol.Tier != "professional" {
		t.Fatalf("VerifiedPolicy = %+v, %v", pol, err)
	}
	for range 2 { // the second revocation is a no-op
		if got, err := admin.RevokeAgentKey(ctx, ten.ID, "0123456789abcdef"); err != nil || !slices.Equal(got.RevokedAgentKeys, []string{"0123456789abcdef"}) {
			t.Fatalf("RevokeAgentKey = %+v, %v", got.RevokedAgentKeys, err)
		}
	}
	if pol, err = agent.VerifiedPolicy(ctx, ten.ID); err != nil || !slices.Equal(pol.RevokedAgentKeys, []string{"0123456789abcdef"}) {
		t.Fatalf("policy after RevokeAgentKey = %+v, %v", pol, err)
	}
	if _, err := admin.RevokeAgentKey(ctx, "tn_nope", "0123456789abcdef"); !client.IsNotFound(err) {
		t.Fatalf("RevokeAgentKey of an unknown tenant: %v", err)
	}

	// A deleted tenant gets its final invoice from the scheduler (billing is
	// by whole seconds: delete in a later second than the creation).
	storetest.Eventually(t, time.Minute, func() error {
		if !time.Now().Truncate(time.Second).After(ten.CreatedAt.Truncate(time.Second)) {
			return fmt.Errorf("still the second the tenant was created in")
		}
		return nil
	})
	if ten, err = admin.DeleteTenant(ctx, ten.ID); err != nil || ten.Status != contract.StatusDeleted {
		t.Fatalf("DeleteTenant = %+v, %v", ten, err)
	}
	var inv contract.Invoice
	storetest.Eventually(t, time.Minute, func() error {
		invs, err := reader.ListInvoices(ctx, client.InvoiceQuery{})
		if err != nil {
			return err
		}
		if len(invs) != 1 {
			return fmt.Errorf("%d invoices", len(invs))
		}
		inv = invs[0]
		return nil
	})
	if inv, err = admin.FinalizeInvoice(ctx, inv.ID, time.Now().Add(time.Hour)); err != nil || inv.Status == contract.InvoiceDraft {
		t.Fatalf("FinalizeInvoice = %+v, %v", inv, err)
	}
	if got, err := reader.GetInvoice(ctx, inv.ID); err != nil || got.FinalizedAt != inv.FinalizedAt {
		t.Fatalf("GetInvoice = %+v, %v", got, err)
	}
	for _, f := range []string{"csv", "html"} {
		doc, err := reader.InvoiceDocument(ctx, inv.ID, f)
		if err != nil || !strings.Contains(string(doc), inv.ID) {
			t.Fatalf("InvoiceDocument %s = %.200s, %v", f, doc, err)
		}
	}
	if inv.AmountDueCents > 0 {
		pr, err := admin.PayInvoice(ctx, inv.ID, client.Payment{AmountCents: inv.AmountDueCents, ExternalRef: "contract-1"})
		if err != nil || pr.Invoice.Status != contract.InvoicePaid {
			t.Fatalf("PayInvoice = %+v, %v", pr, err)
		}
		if _, err := admin.PayInvoice(ctx, inv.ID, client.Payment{AmountCents: 1, ExternalRef: "contract-1"}); !client.IsConflict(err) {
			t.Fatalf("reused reference: %v", err)
		}
		pays, err := reader.Payments(ctx, ten.ID)
		if err != nil || len(pays) != 1 {
			t.Fatalf("Payments = %+v, %v", pays, err)
		}
	} else if _, err := admin.VoidInvoice(ctx, inv.ID, "x"); !client.IsConflict(err) {
		t.Fatalf("void of a paid invoice: %v", err)
	}
	audit, err := reader.Audit(ctx, ten.ID, 0, 2)
	if err != nil || len(audit.Entries) != 2 || audit.Next == 0 {
		t.Fatalf("Audit page = %+v, %v", audit, err)
	}
	if k, err := admin.RevokeKey(ctx, ten.ID, key.ID); err != nil || k.RevokedAt.IsZero() {
		t.Fatalf("RevokeKey = %+v, %v", k, err)
	}
	if _, err := reader.GetTenant(ctx, ten.ID); !client.IsUnauthenticated(err) {
		t.Fatalf("revoked key: %v", err)
	}
}
