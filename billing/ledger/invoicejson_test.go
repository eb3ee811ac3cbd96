package ledger

import (
	"encoding/json"
	"testing"
	"time"
)

func renderedInvoice(t *testing.T) (Invoice, Tenant) {
	t.Helper()
	f := usageFixture(t)
	f.actor = "admin"
	f.ok(UpdateTenant{Header: f.h(), Tenant: "t1", Name: `<script>alert("x")</script>`})
	f.now = t0.Add(time.Hour)
	f.ingest("c1", rec("n1", 1, "t1", t0, 3_000_000, 500_000))
	f.now = feb.Add(time.Hour)
	id := f.ok(closeCmd(f.h(), "t1", t0, feb, t0, feb)).Invoice.ID
	inv := f.ok(FinalizeInvoice{Header: f.h(), InvoiceID: id, DueAt: f.now.Add(24 * time.Hour).UnixNano()}).Invoice
	return *inv, f.tenant("t1")
}

func TestInvoiceJSON(t *testing.T) {
	inv, _ := renderedInvoice(t)
	raw, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "tenant_id", "status", "lines", "total_cents", "amount_due_cents", "due_at", "period_start"} {
		if _, ok := m[k]; !ok {
			t.Errorf("invoice JSON lacks %q: %s", k, raw)
		}
	}
	if _, ok := m["voided_at"]; ok {
		t.Error("zero voided_at is not omitted")
	}
	var back Invoice
	if err := json.Unmarshal(raw, &back); err != nil || back.TotalCents != inv.TotalCents || len(back.Lines) != len(inv.Lines) || back.Lines[1].Amount.Cmp(inv.Lines[1].Amount) != 0 {
		t.Fatalf("JSON round trip = %+v, %v", back, err)
	}
}
