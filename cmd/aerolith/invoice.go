package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
)

// newInvoiceCommand builds `aerolith invoice`: invoices and payments.
func newInvoiceCommand(m *Main) *cobra.Command {
	f := &billingFlags{}
	cmd := groupCommand("invoice", "List, show, finalize, void, write off and pay invoices")
	addBillingFlags(cmd, f)
	cmd.AddCommand(
		newInvoiceListCommand(m, f),
		newInvoiceShowCommand(m, f),
		newInvoiceFinalizeCommand(m, f),
		newInvoiceVoidCommand(m, f),
		newInvoiceUncollectibleCommand(m, f),
		newInvoicePayCommand(m, f),
	)
	return cmd
}

// newInvoiceListCommand builds `aerolith invoice list`.
func newInvoiceListCommand(m *Main, f *billingFlags) *cobra.Command {
	var tenant, statusFilter string
	list := &cobra.Command{
		Use:   "list",
		Short: "List invoices (one tenant's with --tenant)",
		Args:  argsBetween(0, 0, "(none)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			list, err := c.Invoices(cmd.Context(), billingclient.InvoiceQuery{TenantID: tenant, Status: statusFilter})
			if err != nil {
				return err
			}
			invs := list.Invoices
			if f.json() {
				if invs == nil {
					invs = []contract.Invoice{}
				}
				return writeJSON(m.Stdout, invs)
			}
			tw := newTable(m.Stdout)
			fmt.Fprintln(tw, "ID\tTENANT\tSTATUS\tPERIOD START\tPERIOD END\tTOTAL\tDUE\tDUE AT")
			for _, inv := range invs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", inv.ID, inv.Tenant, inv.Status, billingTime(inv.PeriodStart), billingTime(inv.PeriodEnd),
					formatCents(inv.TotalCents), formatCents(inv.AmountDueCents), billingTime(inv.DueAt))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(invs) == 0 && (statusFilter == "" || statusFilter == string(contract.InvoiceDraft)) {
				_, err := fmt.Fprintln(m.Stdout, noDraftsHint(list, tenant, statusFilter))
				return err
			}
			return nil
		},
	}
	list.Flags().StringVar(&tenant, "tenant", "", "only this tenant's invoices")
	list.Flags().StringVar(&statusFilter, "status", "", "only invoices in this status: draft, open, paid, void or uncollectible")
	return apiFields(list, "tenant_id", "--tenant", "status", "--status")
}

// newInvoiceShowCommand builds `aerolith invoice show`.
func newInvoiceShowCommand(m *Main, f *billingFlags) *cobra.Command {
	var format string
	show := &cobra.Command{
		Use:   "show INVOICE_ID",
		Short: "Show an invoice with its lines (--format csv or html prints the document)",
		Args:  argsBetween(1, 1, "INVOICE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			switch format {
			case "":
			case "csv", "html":
				doc, err := c.InvoiceDocument(cmd.Context(), args[0], format)
				if err != nil {
					return err
				}
				_, err = m.Stdout.Write(doc)
				return err
			default:
				return usageError{fmt.Errorf("--format: %q is unknown; want csv or html (or -o json)", format)}
			}
			inv, err := c.GetInvoice(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printInvoice(m.Stdout, f, inv, "")
		},
	}
	show.Flags().StringVar(&format, "format", "", "print the invoice document as csv or html")
	return show
}

// newInvoiceFinalizeCommand builds `aerolith invoice finalize`.
func newInvoiceFinalizeCommand(m *Main, f *billingFlags) *cobra.Command {
	var due string
	finalize := &cobra.Command{
		Use:   "finalize INVOICE_ID",
		Short: "Finalize a draft now (the scheduler does so after the grace period)",
		Args:  argsBetween(1, 1, "INVOICE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dueAt, err := parseWhen("due", due)
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			inv, err := c.FinalizeInvoice(cmd.Context(), args[0], dueAt)
			if err != nil {
				return err
			}
			return printInvoice(m.Stdout, f, inv, "finalized")
		},
	}
	finalize.Flags().StringVar(&due, "due", "", "due date (RFC 3339 time or date; default: now plus the service's payment terms)")
	return apiFields(finalize, "due_at", "--due")
}

// newInvoiceVoidCommand builds `aerolith invoice void`.
func newInvoiceVoidCommand(m *Main, f *billingFlags) *cobra.Command {
	var reason string
	void := &cobra.Command{
		Use:   "void INVOICE_ID",
		Short: "Void a draft or open invoice (payments on it become tenant credit)",
		Args:  argsBetween(1, 1, "INVOICE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			inv, err := c.VoidInvoice(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			return printInvoice(m.Stdout, f, inv, "voided")
		},
	}
	void.Flags().StringVar(&reason, "reason", "", "reason recorded on the invoice and in the audit trail")
	return apiFields(void, "reason", "--reason")
}

// newInvoiceUncollectibleCommand builds `aerolith invoice uncollectible`.
func newInvoiceUncollectibleCommand(m *Main, f *billingFlags) *cobra.Command {
	var reason string
	uncollectible := &cobra.Command{
		Use:   "uncollectible INVOICE_ID",
		Short: "Write off an open invoice as uncollectible (recorded with --reason; a payment can still settle it)",
		Args:  argsBetween(1, 1, "INVOICE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			inv, err := c.MarkUncollectible(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			return printInvoice(m.Stdout, f, inv, "marked uncollectible")
		},
	}
	uncollectible.Flags().StringVar(&reason, "reason", "", "reason recorded on the invoice and in the audit trail")
	return apiFields(uncollectible, "reason", "--reason")
}

// newInvoicePayCommand builds `aerolith invoice pay`.
func newInvoicePayCommand(m *Main, f *billingFlags) *cobra.Command {
	var amount, ref, method, note string
	var amountCents int64
	var credit bool
	pay := &cobra.Command{
		Use:   "pay INVOICE_ID",
		Short: "Record a manual payment against an invoice (partial payments reduce the amount due; more than is due needs --credit)",
		Example: `  aerolith invoice pay in_0123 --amount 12.34 --ref "wire 2026-02-03 #889"
  aerolith invoice pay in_0123 --amount 100 --ref "wire #890" --credit   # the excess over the amount due becomes credit`,
		Args: argsBetween(1, 1, "INVOICE_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := billingclient.Payment{AmountCents: amountCents, Method: method, ExternalRef: ref, Note: note, Credit: credit}
			switch {
			case amount != "" && amountCents != 0:
				return usageError{errors.New("--amount and --amount-cents: give one of them")}
			case amount != "":
				v, err := parseDollars(amount)
				if err != nil {
					return usageError{fmt.Errorf("--amount: %v", err)}
				}
				p.AmountCents = v
			case amountCents <= 0:
				return usageError{errors.New("--amount: required (dollars, e.g. 12.34) unless --amount-cents is given")}
			}
			if ref == "" {
				return usageError{errors.New("--ref: required: the payment's external reference (bank transfer, cheque number, ...), unique across payments")}
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			res, err := c.PayInvoice(cmd.Context(), args[0], p)
			if err != nil {
				return err
			}
			if f.json() {
				return writeJSON(m.Stdout, res)
			}
			pm := res.Payment
			fmt.Fprintf(m.Stdout, "recorded payment %s of %s (%s applied, %s to credit) on invoice %s\n",
				pm.ID, formatCents(pm.AmountCents), formatCents(pm.AppliedCents), formatCents(pm.CreditedCents), args[0])
			if res.Invoice != nil {
				fmt.Fprintf(m.Stdout, "invoice %s is %s, %s due\n", res.Invoice.ID, res.Invoice.Status, formatCents(res.Invoice.AmountDueCents))
			}
			if res.Tenant != nil {
				fmt.Fprintf(m.Stdout, "tenant %s is %s\n", res.Tenant.ID, res.Tenant.Status)
			}
			return nil
		},
	}
	pay.Flags().StringVar(&amount, "amount", "", "amount in dollars, e.g. 12.34")
	pay.Flags().Int64Var(&amountCents, "amount-cents", 0, "amount in cents (instead of --amount)")
	pay.Flags().StringVar(&ref, "ref", "", "external reference, unique across payments (required)")
	pay.Flags().StringVar(&method, "method", "manual", "manual or admin")
	pay.Flags().StringVar(&note, "note", "", "free-text note")
	pay.Flags().BoolVar(&credit, "credit", false, "accept an amount above the amount due: the excess is a prepayment kept as the tenant's credit (recorded in its audit trail)")
	return apiFields(pay, "method", "--method", "external_ref", "--ref", "note", "--note")
}

// printInvoice prints an invoice: JSON, or its figures and lines.
func printInvoice(w io.Writer, f *billingFlags, inv contract.Invoice, verb string) error {
	if f.json() {
		return writeJSON(w, inv)
	}
	if verb != "" {
		fmt.Fprintf(w, "%s invoice %s\n", verb, inv.ID)
	}
	tw := newTable(w)
	for _, r := range [][2]string{
		{"id", inv.ID}, {"tenant", inv.Tenant}, {"status", string(inv.Status)},
		{"period", billingTime(inv.PeriodStart) + " to " + billingTime(inv.PeriodEnd)},
		{"due at", billingTime(inv.DueAt)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	if inv.StatusReason != "" {
		fmt.Fprintf(tw, "reason:\t%s\n", inv.StatusReason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	fmt.Fprintln(tw, "#\tDESCRIPTION\tQUANTITY\tAMOUNT")
	for i, l := range inv.Lines {
		qty := ""
		if l.Quantity != 0 {
			qty = fmt.Sprintf("%d %s", l.Quantity, l.Unit)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", i+1, l.Description, qty, formatCents(l.Cents))
	}
	for _, r := range []struct {
		label string
		c     int64
	}{{"subtotal", inv.SubtotalCents}, {"credit applied", -inv.CreditAppliedCents}, {"total", inv.TotalCents}, {"paid", inv.AmountPaidCents}, {"amount due", inv.AmountDueCents}} {
		fmt.Fprintf(tw, "\t%s\t\t%s\n", r.label, formatCents(r.c))
	}
	if inv.Status == contract.InvoiceDraft {
		fmt.Fprintf(tw, "\t(draft: figures as of %s; usage arriving before finalization still counts)\t\t\n", billingTime(time.Now()))
	}
	return tw.Flush()
}

// noDraftsHint explains an empty invoice list (of drafts when status is
// "draft", of any invoice when it is ""): drafts appear only when a
// billing period ends, so a new tenant has none during its first period.
func noDraftsHint(l billingclient.InvoiceList, tenant, status string) string {
	what := "no invoices"
	if status != "" {
		what = "no " + status + " invoices"
	}
	p := l.CurrentPeriod
	switch {
	case tenant == "" || p == nil:
		return fmt.Sprintf("%s yet: a tenant's draft appears when its billing period (%s) ends", what, l.BillingPeriod)
	case p.First:
		return fmt.Sprintf("%s yet: the first billing period of tenant %s ends at %s UTC (drafts appear when a period ends)", what, tenant, billingTime(p.End))
	}
	return fmt.Sprintf("%s: the current billing period of tenant %s ends at %s UTC; its draft appears then", what, tenant, billingTime(p.End))
}
