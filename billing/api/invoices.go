package api

import (
	"net/http"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/invoice"
	"github.com/aerolithdb/aerolith/billing/ledger"
	"github.com/aerolithdb/aerolith/billing/tier"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// invoicesBody is the answer of GET /api/v1/invoices.
type invoicesBody struct {
	Invoices []contract.Invoice `json:"invoices"`
	// BillingPeriod is the service's period ("month", "10m0s"): a draft
	// appears when a tenant's period ends.
	BillingPeriod string `json:"billing_period"`
	// CurrentPeriod is the listed tenant's period not yet invoiced (when
	// one tenant is listed), so an empty list can say when the next draft
	// comes.
	CurrentPeriod *contract.OpenPeriod `json:"current_period,omitempty"`
}

// listInvoices: GET /api/v1/invoices?tenant_id=&status= → {"invoices":[...],
// "billing_period", "current_period"?} by tenant and period. A tenant key
// lists its own tenant's invoices (tenant_id, when given, must be its
// own); an admin lists every tenant's unless tenant_id is given. Drafts
// show their current preview.
func (s *Server) listInvoices(w http.ResponseWriter, r *http.Request, p principal) error {
	q := r.URL.Query()
	tenant := q.Get("tenant_id")
	if p.kind&tenantKeys != 0 {
		if tenant != "" && tenant != p.tenant {
			return jsonapi.NotFound("tenant %q not found", tenant)
		}
		tenant = p.tenant
	}
	var status ledger.InvoiceStatus
	if v := q.Get("status"); v != "" {
		status = ledger.InvoiceStatus(v)
		switch status {
		case ledger.InvoiceDraft, ledger.InvoiceOpen, ledger.InvoicePaid, ledger.InvoiceVoid, ledger.InvoiceUncollectible:
		default:
			return jsonapi.Invalid("status: %q is unknown (want draft, open, paid, void or uncollectible)", clip(v))
		}
	}
	body := invoicesBody{BillingPeriod: s.cfg.Cycle.String()}
	err := s.view(r, func(tx *bolt.Tx) error {
		all, err := ledger.ListInvoices(tx, tenant)
		if err != nil {
			return err
		}
		if tenant != "" {
			if p, err := ledger.CurrentPeriod(tx, tenant, s.cfg.Cycle); err == nil {
				body.CurrentPeriod = wirePtr(&p)
			}
		}
		if all != nil {
			body.Invoices = make([]contract.Invoice, 0, len(all))
		}
		for _, inv := range all {
			if status == "" || inv.Status == status {
				body.Invoices = append(body.Invoices, inv.Wire())
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, body)
	return nil
}

// getInvoice: GET /api/v1/invoices/{id}[?format=json|csv|html]. CSV has
// one row per line (invoice.WriteCSV); HTML is a printable page
// (invoice.WriteHTML). A tenant key sees only its own tenant's invoices
// (others are 404).
func (s *Server) getInvoice(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("id")
	format := strings.ToLower(r.URL.Query().Get("format"))
	switch format {
	case "", "json", "csv", "html":
	default:
		return jsonapi.Invalid("format: %q is unknown (want json, csv or html)", clip(format))
	}
	var inv ledger.Invoice
	var t ledger.Tenant
	err := s.view(r, func(tx *bolt.Tx) error {
		var err error
		if inv, err = ledger.GetInvoice(tx, id); err != nil {
			return err
		}
		if !p.canSee(inv.Tenant) {
			return jsonapi.NotFound("invoice %q not found", id)
		}
		if format == "html" {
			t, err = ledger.GetTenant(tx, inv.Tenant)
		}
		return err
	})
	if err != nil {
		return err
	}
	switch format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+inv.ID+`.csv"`)
		if err := invoice.WriteCSV(w, inv.Wire()); err != nil {
			s.log.Warn("write invoice csv", "invoice", inv.ID, "err", err)
		}
	case "html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		if err := invoice.WriteHTML(w, invoice.HTMLData{Invoice: inv.Wire(), Tenant: wirePtr(&t)}); err != nil {
			s.log.Warn("write invoice html", "invoice", inv.ID, "err", err)
		}
	default:
		jsonapi.WriteJSON(w, http.StatusOK, inv.Wire())
	}
	return nil
}

// finalizeInvoice: POST /api/v1/invoices/{id}/finalize [{"due_at"}] → 200
// with the open (or, for a zero total, paid) invoice. The due date
// defaults to now plus the payment terms. Finalizing a finalized invoice
// returns it unchanged.
func (s *Server) finalizeInvoice(w http.ResponseWriter, r *http.Request, p principal) error {
	due, err := decodeFinalize(r.Body)
	if err != nil {
		return err
	}
	h := s.header(p)
	if due.IsZero() {
		due = time.Unix(0, h.Time).Add(s.cfg.PaymentTerms)
	}
	res, err := s.propose(r.Context(), ledger.FinalizeInvoice{Header: h, InvoiceID: r.PathValue("id"), DueAt: due.UnixNano()})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, wirePtr(res.Invoice))
	return nil
}

// voidInvoice: POST /api/v1/invoices/{id}/void [{"reason"}] → 200 with the
// void invoice.
func (s *Server) voidInvoice(w http.ResponseWriter, r *http.Request, p principal) error {
	body, err := decodeReason(r)
	if err != nil {
		return err
	}
	res, err := s.propose(r.Context(), ledger.VoidInvoice{Header: s.header(p), InvoiceID: r.PathValue("id"), Reason: body.Reason})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, wirePtr(res.Invoice))
	return nil
}

// uncollectibleInvoice: POST /api/v1/invoices/{id}/uncollectible
// [{"reason"}] → 200 with the written-off invoice (it can still be paid).
func (s *Server) uncollectibleInvoice(w http.ResponseWriter, r *http.Request, p principal) error {
	body, err := decodeReason(r)
	if err != nil {
		return err
	}
	res, err := s.propose(r.Context(), ledger.MarkUncollectible{Header: s.header(p), InvoiceID: r.PathValue("id"), Reason: body.Reason})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusOK, wirePtr(res.Invoice))
	return nil
}

// paymentOut is the answer of POST /api/v1/invoices/{id}/payments.
type paymentOut struct {
	Payment *contract.Payment `json:"payment"`
	Invoice *contract.Invoice `json:"invoice,omitempty"`
	// Tenant is set when the payment resumed a tenant suspended by dunning.
	Tenant *contract.Tenant `json:"tenant,omitempty"`
}

// payInvoice: POST /api/v1/invoices/{id}/payments
// {"amount_cents","method":"manual"|"admin","external_ref","note","credit"}
// → 201 {"payment","invoice","tenant"?}. A partial payment reduces the
// amount due; an amount above it is refused (400 naming both figures)
// unless "credit": true says the excess is a prepayment, which becomes
// tenant credit (tenant.credited in the tenant's audit trail); a payment
// that leaves no invoice past due resumes a tenant suspended by dunning.
// external_ref is unique: reusing it is 409.
func (s *Server) payInvoice(w http.ResponseWriter, r *http.Request, p principal) error {
	body, err := decodePayment(r.Body)
	if err != nil {
		return err
	}
	res, err := s.propose(r.Context(), ledger.RecordPayment{
		Header: s.header(p), PaymentID: ledger.NewID("pay_"), InvoiceID: r.PathValue("id"),
		AmountCents: body.AmountCents, Method: body.Method, ExternalRef: body.ExternalRef, Note: body.Note,
		Credit: body.Credit,
	})
	if err != nil {
		return err
	}
	jsonapi.WriteJSON(w, http.StatusCreated, paymentOut{Payment: wirePtr(res.Payment), Invoice: wirePtr(res.Invoice), Tenant: wirePtr(res.Tenant)})
	return nil
}

// pricedTier is one tier of the pricing answer: the tier as configured
// and what its quota action means for a customer, since a limit under
// allow_with_overage or warn is no cap.
type pricedTier struct {
	tier.Tier
	QuotaActionDescription string `json:"quota_action_description"`
}

// pricing: GET /api/v1/payment/pricing → the tier catalog in force
// ({"tiers":[...]}, money as exact dollar strings), each tier with its
// quota_action and quota_action_description (what happens at a limit),
// and with crypto payments configured the tokens accepted with their
// rates ({"tokens":[{"token","chain","decimals","rate":{"units","cents"}}]}).
func (s *Server) pricing(w http.ResponseWriter, r *http.Request, _ principal) error {
	cat, err := s.catalog(r)
	if err != nil {
		return err
	}
	out := struct {
		Tiers []pricedTier `json:"tiers"`
		// Tokens: the crypto tokens accepted and their rates now.
		Tokens []TokenPrice `json:"tokens,omitempty"`
	}{Tiers: make([]pricedTier, 0, len(cat.Tiers)), Tokens: s.tokenPrices(r.Context())}
	for _, t := range cat.Tiers {
		out.Tiers = append(out.Tiers, pricedTier{Tier: t, QuotaActionDescription: t.QuotaAction.Describe()})
	}
	jsonapi.WriteJSON(w, http.StatusOK, out)
	return nil
}
