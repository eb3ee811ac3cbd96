package service

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/store/storetest"
)

const testAdminKey = "service-test-admin-key-0123456789"

// startService opens one replica with a short billing period.
func startService(t *testing.T, dir string, mod func(*Config)) (*Service, *client.Client) {
	t.Helper()
	cfg := Default()
	cfg.InsecureHTTP = true
	cfg.DataDir = dir
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.AdminKeys = []string{testAdminKey}
	cfg.Period = "2s"
	cfg.UsageBucket = time.Second
	cfg.Grace = 300 * time.Millisecond
	cfg.PaymentTerms = 500 * time.Millisecond
	cfg.DunningGrace = 300 * time.Millisecond
	cfg.ScheduleInterval = 100 * time.Millisecond
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg, storetest.TestLogger())
	if err != nil {
		t.Fatal(err)
	}
	s.tune = storetest.FastConfig
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	scheme, hc := "http", http.DefaultClient
	if cfg.TLSCA != "" {
		scheme, hc = "https", caClient(t, cfg.TLSCA)
	}
	c, err := client.New(client.Config{URL: scheme + "://" + s.HTTPAddr(), Key: testAdminKey, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	testwait.For(t, time.Minute, "ready", func() error {
		resp, err := hc.Get(scheme + "://" + s.HTTPAddr() + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		_, _, err = c.PublicKey(context.Background()) // the scheduler set the signing key
		return err
	})
	return s, c
}

// TestServiceDunning drives one replica on a 2s period through the whole
// cycle with the Go client: usage, drafts, finalization, an unpaid invoice
// suspending the tenant (its signed policy says so), payment resuming it.
func TestServiceDunning(t *testing.T) {
	s, admin := startService(t, t.TempDir(), nil)
	ctx := context.Background()
	ten, err := admin.CreateTenant(ctx, client.TenantRequest{Organization: "Acme", Name: "acme", Tier: "starter", Email: "ap@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	enr, err := admin.RegisterCluster(ctx, "", []string{ten.ID})
	if err != nil {
		t.Fatal(err)
	}
	agent, err := client.New(client.Config{URL: "http://" + s.HTTPAddr(), Key: enr.EnrollmentToken})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	res, err := agent.SendUsage(ctx, []client.UsageRecord{
		{NodeID: "n1", Seq: 1, TenantID: ten.ID, Start: now, End: now.Add(time.Second), Reads: 100, Writes: 10},
		{NodeID: "n1", Seq: 2, TenantID: "tn_other", Start: now, End: now.Add(time.Second), Reads: 1},
	})
	if err != nil || res.Accepted != 1 || res.Rejected != 1 || res.Records[1].Status != client.RecordRejected {
		t.Fatalf("SendUsage = %+v, %v", res, err)
	}

	testwait.For(t, time.Minute, "suspended by dunning", func() error {
		pol, err := agent.VerifiedPolicy(ctx, ten.ID)
		if err != nil {
			return err
		}
		if pol.Status != contract.StatusSuspended {
			return fmt.Errorf("policy status %s", pol.Status)
		}
		return nil
	})
	tn, err := admin.GetTenant(ctx, ten.ID)
	if err != nil || tn.SuspendReason != ledger.ReasonDunning {
		t.Fatalf("tenant = %+v, %v; want suspended for dunning", tn, err)
	}

	// Pay every open invoice, the first with a large credit that covers
	// the periods still to come, until the tenant is active with nothing
	// open.
	credit := int64(100_000)
	testwait.For(t, time.Minute, "active after payment", func() error {
		open, err := admin.ListInvoices(ctx, client.InvoiceQuery{TenantID: ten.ID, Status: "open"})
		if err != nil {
			return err
		}
		for _, inv := range open {
			_, err := admin.PayInvoice(ctx, inv.ID, client.Payment{AmountCents: inv.AmountDueCents + credit, ExternalRef: "wire-" + inv.ID, Credit: credit > 0})
			if err != nil {
				return err
			}
			credit = 0
		}
		tn, err := admin.GetTenant(ctx, ten.ID)
		if err != nil {
			return err
		}
		if tn.Status != contract.StatusActive || len(open) > 0 {
			return fmt.Errorf("tenant %s with %d open invoices", tn.Status, len(open))
		}
		return nil
	})
	pol, err := agent.VerifiedPolicy(ctx, ten.ID)
	if err != nil || pol.Status != contract.StatusActive {
		t.Fatalf("policy after payment = %+v, %v", pol, err)
	}
	audit, err := admin.Audit(ctx, ten.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	for _, e := range audit.Entries {
		trail = append(trail, e.Action+"/"+strings.SplitN(e.Actor, ":", 2)[0])
	}
	for _, want := range []string{"invoice.drafted/scheduler", "invoice.finalized/scheduler", "tenant.suspended/scheduler", "payment.recorded/admin"} {
		if !strings.Contains(strings.Join(trail, " "), want) {
			t.Errorf("audit trail lacks %s: %v", want, trail)
		}
	}

	// Every period got exactly one invoice, contiguous from creation.
	invs, err := admin.ListInvoices(ctx, client.InvoiceQuery{TenantID: ten.ID})
	if err != nil {
		t.Fatal(err)
	}
	for i, inv := range invs {
		if i == 0 && !inv.PeriodStart.Equal(ten.CreatedAt.Truncate(time.Second)) {
			t.Fatalf("first period starts %s, tenant created %s", inv.PeriodStart, ten.CreatedAt)
		}
		if i > 0 && !inv.PeriodStart.Equal(invs[i-1].PeriodEnd) {
			t.Fatalf("invoice %d starts %s, previous ended %s", i, inv.PeriodStart, invs[i-1].PeriodEnd)
		}
	}
}

// TestServiceRestart: a replica restarted on its data directory keeps its
// node id, its data and the signing key.
func TestServiceRestart(t *testing.T) {
	dir := t.TempDir()
	s, c := startService(t, dir, func(c *Config) { c.Period = "month"; c.UsageBucket = time.Hour })
	ctx := context.Background()
	ten, err := c.CreateTenant(ctx, client.TenantRequest{Organization: "Acme", Name: "acme", Tier: "free", Email: "ap@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	_, kid, err := c.PublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := s.NodeID()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, c2 := startService(t, dir, func(c *Config) { c.Period = "month"; c.UsageBucket = time.Hour })
	if s2.NodeID() != id {
		t.Fatalf("node id after restart = %s, want %s", s2.NodeID(), id)
	}
	if _, err := c2.GetTenant(ctx, ten.ID); err != nil {
		t.Fatalf("tenant after restart: %v", err)
	}
	if _, kid2, err := c2.PublicKey(ctx); err != nil || kid2 != kid {
		t.Fatalf("signing key after restart = %s, %v; want %s", kid2, err, kid)
	}
	if _, err := New(Config{DataDir: dir}, nil); err == nil {
		t.Fatal("New accepted a config without admin key")
	}
	cfg := Default()
	cfg.InsecureHTTP = true
	cfg.DataDir, cfg.NodeID, cfg.AdminKeys = dir, "someone-else", []string{testAdminKey}
	cfg.HTTPAddr, cfg.RaftAddr = "127.0.0.1:0", "127.0.0.1:0"
	s3, err := New(cfg, storetest.TestLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := s3.Open(ctx); err == nil || !strings.Contains(err.Error(), "belongs to replica") {
		s3.Close()
		t.Fatalf("Open with another node id = %v, want a node-id error", err)
	}
}
