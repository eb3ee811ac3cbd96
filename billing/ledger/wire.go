package ledger

import (
	"slices"

	"github.com/aerolithdb/aerolith/billing/contract"
)

// The ledger's stored types are its own: these map them to billing's wire
// types (billing/contract), which is what billing/api answers with. A new
// stored field reaches the API only when it is mapped here.

// Wire returns t as the API shows it.
func (t Tenant) Wire() contract.Tenant {
	var hist []contract.TierSegment
	if t.TierHistory != nil {
		hist = make([]contract.TierSegment, len(t.TierHistory))
		for i, s := range t.TierHistory {
			hist[i] = contract.TierSegment{Tier: s.Tier, From: s.From}
		}
	}
	return contract.Tenant{
		ID: t.ID, Organization: t.Organization, Name: t.Name, Email: t.Email,
		Tier: t.Tier, Status: contract.Status(t.Status), SuspendReason: t.SuspendReason,
		DunningWaived: slices.Clone(t.DunningWaived), CreditCents: t.CreditCents,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, SuspendedAt: t.SuspendedAt, DeletedAt: t.DeletedAt,
		BilledThrough: t.BilledThrough, TierHistory: hist, RevokedAgentKeys: slices.Clone(t.RevokedAgentKeys),
		PolicyVersion: t.PolicyVersion, PolicyChangedAt: t.PolicyChangedAt,
	}
}

// Wire returns p as the API shows it.
func (p TenantPage) Wire() contract.TenantPage {
	var ts []contract.Tenant
	if p.Tenants != nil {
		ts = make([]contract.Tenant, len(p.Tenants))
		for i, t := range p.Tenants {
			ts[i] = t.Wire()
		}
	}
	return contract.TenantPage{Tenants: ts, Total: p.Total, Limit: p.Limit, Offset: p.Offset}
}

// Wire returns e as the API shows it.
func (e AuditEntry) Wire() contract.AuditEntry {
	return contract.AuditEntry{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Entity: e.Entity,
		EntityID: e.EntityID, Action: e.Action, Details: e.Details}
}

// Wire returns n as the API shows it.
func (n Node) Wire() contract.Node {
	return contract.Node{ID: n.ID, HTTPAddr: n.HTTPAddr, RaftAddr: n.RaftAddr,
		RegisteredAt: n.RegisteredAt, LastSeen: n.LastSeen}
}

// Wire returns inv as the API shows it.
func (inv Invoice) Wire() contract.Invoice {
	var lines []contract.Line
	if inv.Lines != nil {
		lines = make([]contract.Line, len(inv.Lines))
		for i, l := range inv.Lines {
			lines[i] = contract.Line{Kind: string(l.Kind), Meter: string(l.Meter), Model: string(l.Model),
				Description: l.Description, Used: l.Used, Included: l.Included, Quantity: l.Quantity,
				Unit: l.Unit, AmountMicros: l.Amount.String(), Cents: l.Cents}
		}
	}
	return contract.Invoice{
		ID: inv.ID, Tenant: inv.Tenant, Status: contract.InvoiceStatus(inv.Status), Currency: inv.Currency,
		PeriodStart: inv.PeriodStart, PeriodEnd: inv.PeriodEnd, CycleStart: inv.CycleStart, CycleEnd: inv.CycleEnd,
		Lines: lines, SubtotalCents: inv.SubtotalCents, CreditAppliedCents: inv.CreditAppliedCents,
		TotalCents: inv.TotalCents, AmountPaidCents: inv.AmountPaidCents, AmountDueCents: inv.AmountDueCents,
		StatusReason: inv.StatusReason, CreatedAt: inv.CreatedAt, FinalizedAt: inv.FinalizedAt, DueAt: inv.DueAt,
		PaidAt: inv.PaidAt, VoidedAt: inv.VoidedAt, UncollectibleAt: inv.UncollectibleAt,
	}
}

// Wire returns p as the API shows it.
func (p Payment) Wire() contract.Payment {
	return contract.Payment{ID: p.ID, Tenant: p.Tenant, InvoiceID: p.InvoiceID, AmountCents: p.AmountCents,
		AppliedCents: p.AppliedCents, CreditedCents: p.CreditedCents, Method: p.Method,
		ExternalRef: p.ExternalRef, Note: p.Note, RecordedAt: p.RecordedAt, RecordedBy: p.RecordedBy}
}

// Wire returns o as the API shows it.
func (o OpenPeriod) Wire() contract.OpenPeriod {
	return contract.OpenPeriod{Start: o.Start, End: o.End, First: o.First}
}

// Wire returns c as the API shows it.
func (c Counters) Wire() contract.Counters { return contract.Counters(c) }

// Wire returns s as the API shows it.
func (s UsageSeries) Wire() contract.UsageSeries {
	var pts []contract.UsagePoint
	if s.Points != nil {
		pts = make([]contract.UsagePoint, len(s.Points))
		for i, p := range s.Points {
			pts[i] = contract.UsagePoint{Start: p.Start, End: p.End, Counters: p.Counters.Wire()}
		}
	}
	return contract.UsageSeries{Tenant: s.Tenant, Granularity: contract.Granularity(s.Granularity),
		From: s.From, To: s.To, Points: pts, Total: s.Total.Wire()}
}
