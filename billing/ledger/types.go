package ledger

import (
	"time"

	"github.com/aerolithdb/aerolith/billing/rating"
)

// Status is a tenant's lifecycle state.
type Status string

// The tenant states.
const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusDeleted   Status = "deleted"
)

// ReasonDunning is the suspension reason of the dunning scheduler. A
// tenant suspended for it is resumed automatically by a payment that leaves
// no open invoice past due.
const ReasonDunning = "dunning"

// Tenant is a billed customer. Times are UTC.
type Tenant struct {
	ID           string `json:"id"`
	Organization string `json:"organization"`
	Name         string `json:"name"`
	Email        string `json:"email"`
	// Tier is the current tier's name.
	Tier   string `json:"tier"`
	Status Status `json:"status"`
	// SuspendReason is set while suspended: ReasonDunning or the
	// administrator's reason.
	SuspendReason string `json:"suspend_reason,omitempty"`
	// DunningWaived lists the invoices that were past due when an
	// administrator last resumed the tenant (ResumeTenant): they no longer
	// suspend it for dunning (Overdue skips them), so a manual resumption
	// is not undone by the next scheduler pass. An invoice that falls past
	// due later does suspend it. Paying a waived invoice is still accepted.
	DunningWaived []string `json:"dunning_waived,omitempty"`
	// CreditCents is the credit balance, applied to the next finalized
	// invoice.
	CreditCents int64     `json:"credit_cents"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	SuspendedAt time.Time `json:"suspended_at,omitzero"`
	DeletedAt   time.Time `json:"deleted_at,omitzero"`
	// BilledThrough is the end of the latest invoice period (zero before
	// the first invoice): the next period starts there.
	BilledThrough time.Time `json:"billed_through,omitzero"`
	// TierHistory lists the tiers in force from each time on, oldest first,
	// back to the start of the earliest period not yet invoiced.
	TierHistory []TierSegment `json:"tier_history"`
	// RevokedAgentKeys are the ids of data API keys (served by the
	// tenant's agents) that its policy lists as revoked (RevokeAgentKey).
	// Billing API keys are not listed here (see APIKey.RevokedAt).
	RevokedAgentKeys []string `json:"revoked_keys,omitempty"`
	// PolicyVersion increases with every change of the tenant's policy.
	PolicyVersion   uint64    `json:"policy_version"`
	PolicyChangedAt time.Time `json:"policy_changed_at"`
}

// TierSegment says that Tier is in force from From on.
type TierSegment struct {
	Tier string    `json:"tier"`
	From time.Time `json:"from"`
}

// Cluster is a registered cluster and the tenants it serves.
type Cluster struct {
	ID      string   `json:"id"`
	Tenants []string `json:"tenants"`
	// Owner is the tenant that registered the cluster with its own billing
	// key (RegisterOwnedCluster); empty for a cluster an admin registered.
	Owner string `json:"owner,omitempty"`
	// TokenSHA256 is the hex SHA-256 of the enrollment token; the token
	// itself is never stored.
	TokenSHA256 string `json:"token_sha256"`
	// ExtraTokenSHA256 are the hex SHA-256 of further enrollment tokens
	// issued for the cluster (IssueEnrollmentToken), which authenticate
	// like the first.
	ExtraTokenSHA256 []string  `json:"extra_token_sha256,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	CreatedBy        string    `json:"created_by"`
	// DeregisteredAt is set once the cluster is deregistered: its token
	// no longer authenticates.
	DeregisteredAt *time.Time `json:"deregistered_at,omitempty"`
	// Removed lists the tenants removed from the cluster
	// (RemoveClusterTenant) and when, so usage of windows that started
	// while the cluster served them is still accepted when it arrives
	// late.
	Removed []RemovedTenant `json:"removed_tenants,omitempty"`
}

// RemovedTenant says that a cluster stopped serving Tenant at At.
type RemovedTenant struct {
	Tenant string    `json:"tenant"`
	At     time.Time `json:"at"`
}

// InvoiceStatus is an invoice's state: draft → open → paid | void |
// uncollectible (draft → void too; uncollectible → paid when paid late).
type InvoiceStatus string

// The invoice states.
const (
	InvoiceDraft         InvoiceStatus = "draft"
	InvoiceOpen          InvoiceStatus = "open"
	InvoicePaid          InvoiceStatus = "paid"
	InvoiceVoid          InvoiceStatus = "void"
	InvoiceUncollectible InvoiceStatus = "uncollectible"
)

// Line kinds the ledger adds to rating's (base, overage, adjustment).
const (
	// LineCredit applies the tenant's credit balance (negative cents), or
	// moves a negative subtotal to the balance (positive cents, total 0).
	LineCredit rating.Kind = "credit"
)

// Invoice is one tenant's bill for one period. A draft's lines are a
// preview recomputed on every read; from finalization on the invoice is an
// immutable snapshot apart from its status and payment figures.
type Invoice struct {
	ID       string        `json:"id"`
	Tenant   string        `json:"tenant_id"`
	Status   InvoiceStatus `json:"status"`
	Currency string        `json:"currency"`
	// [PeriodStart, PeriodEnd) is the billed span, inside the billing cycle
	// [CycleStart, CycleEnd) it is prorated against.
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	CycleStart  time.Time `json:"cycle_start"`
	CycleEnd    time.Time `json:"cycle_end"`
	// Lines: base fee and overage per tier segment, late-usage adjustments
	// for earlier periods, then credit.
	Lines rating.Lines `json:"lines"`
	// SubtotalCents is the sum of the lines before credit.
	SubtotalCents      int64 `json:"subtotal_cents"`
	CreditAppliedCents int64 `json:"credit_applied_cents"`
	// TotalCents = SubtotalCents - CreditAppliedCents (never negative).
	TotalCents      int64 `json:"total_cents"`
	AmountPaidCents int64 `json:"amount_paid_cents"`
	AmountDueCents  int64 `json:"amount_due_cents"`
	// StatusReason is the reason given to void or write off.
	StatusReason    string    `json:"status_reason,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	FinalizedAt     time.Time `json:"finalized_at,omitzero"`
	DueAt           time.Time `json:"due_at,omitzero"`
	PaidAt          time.Time `json:"paid_at,omitzero"`
	VoidedAt        time.Time `json:"voided_at,omitzero"`
	UncollectibleAt time.Time `json:"uncollectible_at,omitzero"`
}

// Payment is a recorded payment.
type Payment struct {
	ID        string `json:"id"`
	Tenant    string `json:"tenant_id"`
	InvoiceID string `json:"invoice_id,omitempty"`
	// AmountCents was received: AppliedCents went to the invoice and
	// CreditedCents to the tenant's credit balance.
	AmountCents   int64     `json:"amount_cents"`
	AppliedCents  int64     `json:"applied_cents"`
	CreditedCents int64     `json:"credited_cents"`
	Method        string    `json:"method"`
	ExternalRef   string    `json:"external_ref"`
	Note          string    `json:"note,omitempty"`
	RecordedAt    time.Time `json:"recorded_at"`
	RecordedBy    string    `json:"recorded_by"`
}

// AuditEntry is one state change in a tenant's audit trail.
type AuditEntry struct {
	// Seq orders the tenant's entries, from 1.
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Actor    string    `json:"actor"`
	Entity   string    `json:"entity"` // tenant, cluster, invoice, payment
	EntityID string    `json:"entity_id"`
	Action   string    `json:"action"` // e.g. tenant.suspended, invoice.finalized
	// Details are the figures of the change (old and new values, amounts).
	Details map[string]string `json:"details,omitempty"`
}

// unixTime turns command nanoseconds into a UTC time.
func unixTime(nanos int64) time.Time { return time.Unix(0, nanos).UTC() }

// secTime turns Unix seconds into a UTC time.
func secTime(sec int64) time.Time { return time.Unix(sec, 0).UTC() }
