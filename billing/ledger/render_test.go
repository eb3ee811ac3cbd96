package ledger

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/rating"
)

func TestFormatCents(t *testing.T) {
	for in, want := range map[int64]string{0: "0.00", 1234: "12.34", 5: "0.05", -50: "-0.50", -123456: "-1234.56", -9223372036854775808: "-92233720368547758.08"} {
		if got := FormatCents(in); got != want {
			t.Errorf("FormatCents(%d) = %q, want %q", in, got, want)
		}
	}
}

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

func TestWriteCSV(t *testing.T) {
	inv, _ := renderedInvoice(t)
	var buf bytes.Buffer
	if err := WriteCSV(&buf, inv); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(inv.Lines)+1 || strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("rows = %v", rows)
	}
	// base $10, reads 2M over at $0.25/M = $0.50, writes 300k over at $1.25/M = $0.375 → $0.38
	want := [][2]string{{"base", "10.00"}, {"overage", "0.50"}, {"overage", "0.38"}}
	for i, w := range want {
		r := rows[i+1]
		if r[0] != inv.ID || r[6] != w[0] || r[11] != w[1] || r[3] != "2026-01-01T00:00:00Z" {
			t.Errorf("row %d = %v, want kind %s amount %s", i+1, r, w[0], w[1])
		}
	}
	if rows[2][7] != "reads" || rows[2][9] != "2000000" {
		t.Errorf("reads row = %v", rows[2])
	}
	if inv.TotalCents != 1088 {
		t.Errorf("total = %d, want 1088", inv.TotalCents)
	}
}

// TestCSVSafe: cells a spreadsheet would run as a formula get a leading
// quote (OWASP CSV injection); tab, carriage return and the unit were let
// through before.
func TestCSVSafe(t *testing.T) {
	inv := Invoice{ID: "in_1", Lines: rating.Lines{
		{Kind: rating.KindAdjustment, Description: "=HYPERLINK(\"x\")", Cents: -5},
		{Kind: rating.KindAdjustment, Description: "\t=1+1", Unit: "@SUM(A1)", Cents: 1},
		{Kind: rating.KindAdjustment, Description: "\r-2+3+cmd|' /C calc'!A0", Unit: "+x", Cents: 2},
	}}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, inv); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("csv: %d rows, %v", len(rows), err)
	}
	for _, row := range rows[1:] {
		for i, cell := range row {
			if cell != "" && strings.ContainsRune("=+@\t\r", rune(cell[0])) || strings.HasPrefix(cell, "-") && CSVHeader[i] != "amount_usd" {
				t.Errorf("%s cell %q starts with a formula trigger", CSVHeader[i], cell)
			}
		}
	}
	if rows[1][8] != `'=HYPERLINK("x")` || rows[1][11] != "-0.05" || rows[2][10] != "'@SUM(A1)" {
		t.Fatalf("rows = %q", rows)
	}
}

func TestWriteHTML(t *testing.T) {
	inv, tn := renderedInvoice(t)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, HTMLData{Invoice: inv, Tenant: &tn}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{"<!DOCTYPE html>", "Invoice " + inv.ID, "10.00", "10.88", "Amount due", "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "Starter plan"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Error("tenant name was not escaped")
	}
	// Without a tenant it still renders.
	buf.Reset()
	if err := WriteHTML(&buf, HTMLData{Invoice: inv}); err != nil || strings.Contains(buf.String(), "Bill to") {
		t.Fatalf("page without tenant: %v", err)
	}
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
