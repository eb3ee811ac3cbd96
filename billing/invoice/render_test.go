package invoice

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/contract"
)

func TestFormatCents(t *testing.T) {
	for in, want := range map[int64]string{0: "0.00", 1234: "12.34", 5: "0.05", -50: "-0.50", -123456: "-1234.56", -9223372036854775808: "-92233720368547758.08"} {
		if got := FormatCents(in); got != want {
			t.Errorf("FormatCents(%d) = %q, want %q", in, got, want)
		}
	}
}

// testInvoice is a finalized starter invoice as billing/api serves it:
// base $10, reads 2M over at $0.25/M = $0.50, writes 300k over at
// $1.25/M = $0.375 → $0.38.
func testInvoice() (contract.Invoice, contract.Tenant) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	inv := contract.Invoice{
		ID: "inv_t1_20260101", Tenant: "t1", Status: contract.InvoiceOpen, Currency: "usd",
		PeriodStart: t0, PeriodEnd: feb, CycleStart: t0, CycleEnd: feb,
		Lines: []contract.Line{
			{Kind: "base", Description: "Starter plan, 2026-01-01 to 2026-02-01", Used: 2678400, Quantity: 2678400, Unit: "second", AmountMicros: "10000000", Cents: 1000},
			{Kind: "overage", Meter: "reads", Model: "per_unit", Description: "Reads beyond the allowance", Used: 3000000, Included: 1000000, Quantity: 2000000, Unit: "read", AmountMicros: "500000", Cents: 50},
			{Kind: "overage", Meter: "writes", Model: "per_unit", Description: "Writes beyond the allowance", Used: 500000, Included: 200000, Quantity: 300000, Unit: "write", AmountMicros: "375000", Cents: 38},
		},
		SubtotalCents: 1088, TotalCents: 1088, AmountDueCents: 1088,
		CreatedAt: feb, FinalizedAt: feb.Add(time.Hour), DueAt: feb.Add(25 * time.Hour),
	}
	tn := contract.Tenant{ID: "t1", Organization: "Acme", Name: `<script>alert("x")</script>`, Email: "ops@acme.test", Tier: "starter", Status: contract.StatusActive}
	return inv, tn
}

func TestWriteCSV(t *testing.T) {
	inv, _ := testInvoice()
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
}

// TestCSVSafe: cells a spreadsheet would run as a formula get a leading
// quote (OWASP CSV injection); tab, carriage return and the unit were let
// through before.
func TestCSVSafe(t *testing.T) {
	inv := contract.Invoice{ID: "in_1", Lines: []contract.Line{
		{Kind: "adjustment", Description: "=HYPERLINK(\"x\")", Cents: -5},
		{Kind: "adjustment", Description: "\t=1+1", Unit: "@SUM(A1)", Cents: 1},
		{Kind: "adjustment", Description: "\r-2+3+cmd|' /C calc'!A0", Unit: "+x", Cents: 2},
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
	inv, tn := testInvoice()
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
