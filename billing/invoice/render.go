// Package invoice renders billing's invoices as documents: CSV (one row per
// line) and a printable HTML page. It works on the wire types
// (billing/contract), so it is what billing/api serves and what any client
// holding an invoice can print; it knows nothing of the ledger.
package invoice

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"time"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/internal/csvcell"
)

// FormatCents writes cents as decimal dollars: 1234 → "12.34", -50 →
// "-0.50".
func FormatCents(c int64) string {
	sign := ""
	u := uint64(c)
	if c < 0 {
		sign = "-"
		u = uint64(-(c + 1)) + 1
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}

// CSVHeader is the header row WriteCSV writes.
var CSVHeader = []string{"invoice_id", "tenant_id", "status", "period_start", "period_end", "line", "kind", "meter", "description", "quantity", "unit", "amount_usd"}

// WriteCSV writes inv as CSV: the header row, then one row per line with
// its amount in decimal dollars ("12.34"). Times are RFC 3339 UTC. Every
// cell goes through csvcell.Escape: a description, unit or tier name
// starting with '=', '+', '-', '@', a tab or a carriage return gets a
// leading quote so no spreadsheet runs it as a formula (amounts such as
// -1.50 stay numbers).
func WriteCSV(w io.Writer, inv contract.Invoice) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	ps, pe := inv.PeriodStart.UTC().Format(time.RFC3339), inv.PeriodEnd.UTC().Format(time.RFC3339)
	for i, l := range inv.Lines {
		row := []string{inv.ID, inv.Tenant, string(inv.Status), ps, pe, strconv.Itoa(i + 1), l.Kind, l.Meter,
			l.Description, strconv.FormatInt(l.Quantity, 10), l.Unit, FormatCents(l.Cents)}
		for j := range row {
			row[j] = csvcell.Escape(row[j])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// HTMLData is what WriteHTML renders: the invoice and, when known, its
// tenant (for the bill-to block).
type HTMLData struct {
	Invoice contract.Invoice
	Tenant  *contract.Tenant
}

var invoiceHTML = template.Must(template.New("invoice").Funcs(template.FuncMap{
	"dollars": FormatCents,
	"date":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") },
	"inc":     func(i int) int { return i + 1 },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Invoice {{.Invoice.ID}}</title>
<style>
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 52em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
.status { display: inline-block; padding: 0.1em 0.6em; border: 1px solid #888; border-radius: 0.3em; text-transform: uppercase; font-size: 0.8em; }
table { border-collapse: collapse; width: 100%; margin-top: 1.5em; }
th, td { text-align: left; padding: 0.4em 0.5em; border-bottom: 1px solid #ddd; vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
tfoot td { border-bottom: none; font-weight: bold; }
.meta td { border: none; padding: 0.1em 0.5em 0.1em 0; }
@media print { body { margin: 0; } .status { border-color: #000; } }
</style>
</head>
<body>
<h1>Invoice {{.Invoice.ID}} <span class="status">{{.Invoice.Status}}</span></h1>
<table class="meta">
{{- with .Tenant}}
<tr><td>Bill to</td><td>{{.Organization}} &mdash; {{.Name}} &lt;{{.Email}}&gt;</td></tr>
{{- end}}
<tr><td>Tenant</td><td>{{.Invoice.Tenant}}</td></tr>
<tr><td>Period</td><td>{{date .Invoice.PeriodStart}} to {{date .Invoice.PeriodEnd}}</td></tr>
<tr><td>Issued</td><td>{{if .Invoice.FinalizedAt.IsZero}}not yet (draft){{else}}{{date .Invoice.FinalizedAt}}{{end}}</td></tr>
{{- if not .Invoice.DueAt.IsZero}}
<tr><td>Due</td><td>{{date .Invoice.DueAt}}</td></tr>
{{- end}}
{{- if .Invoice.StatusReason}}
<tr><td>Note</td><td>{{.Invoice.StatusReason}}</td></tr>
{{- end}}
</table>
<table>
<thead><tr><th>#</th><th>Description</th><th class="num">Quantity</th><th class="num">Amount (USD)</th></tr></thead>
<tbody>
{{- range $i, $l := .Invoice.Lines}}
<tr><td>{{inc $i}}</td><td>{{$l.Description}}</td><td class="num">{{if $l.Quantity}}{{$l.Quantity}} {{$l.Unit}}{{end}}</td><td class="num">{{dollars $l.Cents}}</td></tr>
{{- end}}
</tbody>
<tfoot>
<tr><td></td><td>Subtotal</td><td></td><td class="num">{{dollars .Invoice.SubtotalCents}}</td></tr>
<tr><td></td><td>Credit applied</td><td></td><td class="num">{{dollars .Invoice.CreditAppliedCents}}</td></tr>
<tr><td></td><td>Total</td><td></td><td class="num">{{dollars .Invoice.TotalCents}}</td></tr>
<tr><td></td><td>Paid</td><td></td><td class="num">{{dollars .Invoice.AmountPaidCents}}</td></tr>
<tr><td></td><td>Amount due</td><td></td><td class="num">{{dollars .Invoice.AmountDueCents}}</td></tr>
</tfoot>
</table>
</body>
</html>
`))

// WriteHTML writes a printable HTML page for d.Invoice. Every value is
// escaped by html/template.
func WriteHTML(w io.Writer, d HTMLData) error {
	return invoiceHTML.Execute(w, d)
}
