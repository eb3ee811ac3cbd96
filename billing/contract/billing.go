package contract

import "time"

// ReasonDunning is the suspension reason of billing's dunning scheduler: a
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
	// administrator last resumed the tenant: they no longer suspend it for
	// dunning.
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
	// RevokedAgentKeys are the ids of data API keys that the tenant's
	// policy lists as revoked.
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

// TenantPage is a page of tenants in id order; Total counts every match.
type TenantPage struct {
	Tenants []Tenant `json:"tenants"`
	Total   int      `json:"total"`
	Limit   int      `json:"limit"`
	Offset  int      `json:"offset"`
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

// Node is a node of a registered cluster as it last registered. Times are
// UTC.
type Node struct {
	ID string `json:"id"`
	// HTTPAddr and RaftAddr are the addresses the node advertises
	// (host:port).
	HTTPAddr string `json:"http_addr"`
	RaftAddr string `json:"raft_addr"`
	// RegisteredAt is when the node first registered; LastSeen the latest
	// registration's time (it never moves backwards).
	RegisteredAt time.Time `json:"registered_at"`
	LastSeen     time.Time `json:"last_seen"`
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
	Lines []Line `json:"lines"`
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

// Line is one invoice line. Cents is the exact AmountMicros rounded once,
// half away from zero, and is what invoices add up.
type Line struct {
	// Kind is base, overage, adjustment or credit.
	Kind string `json:"kind"`
	// Meter and Model name the meter and pricing model of an overage line.
	Meter       string `json:"meter,omitempty"`
	Model       string `json:"model,omitempty"`
	Description string `json:"description"`
	// Used, Included and Quantity are in Unit. For an overage line Used is
	// the metered usage, Included the allowance for the period (prorated)
	// and Quantity = Used - Included. For a base line they are seconds: the
	// period's, none, and the seconds billed.
	Used     int64  `json:"used"`
	Included int64  `json:"included"`
	Quantity int64  `json:"quantity"`
	Unit     string `json:"unit"`
	// AmountMicros is the exact charge in micro-dollars (negative for a
	// credit): an integer ("1500000") or a reduced fraction ("1/4").
	AmountMicros string `json:"amount_micros"`
	Cents        int64  `json:"cents"`
}

// OpenPeriod is a tenant's billing period not yet invoiced.
type OpenPeriod struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// First is true for the tenant's first period (no invoice yet).
	First bool `json:"first"`
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

// Granularity is the step of a usage series: "hour" or "day" (UTC days).
type Granularity string

// The granularities.
const (
	Hourly Granularity = "hour"
	Daily  Granularity = "day"
)

// Counters are usage totals of one tenant over some span.
type Counters struct {
	Reads              uint64 `json:"reads"`
	Writes             uint64 `json:"writes"`
	Queries            uint64 `json:"queries"`
	QueryComputeMs     uint64 `json:"query_compute_ms"`
	IngressBytes       uint64 `json:"ingress_bytes"`
	EgressBytes        uint64 `json:"egress_bytes"`
	StorageByteSeconds uint64 `json:"storage_byte_seconds"`
}

// UsagePoint is a tenant's usage over [Start, End).
type UsagePoint struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Counters
}

// UsageSeries is a tenant's usage over [From, To) in steps of Granularity.
// Points is dense (a point per step, zero when nothing was metered); Total
// is their sum. Figures are saturated at 2^64-1 rather than wrapped.
type UsageSeries struct {
	Tenant      string       `json:"tenant_id"`
	Granularity Granularity  `json:"granularity"`
	From        time.Time    `json:"from"`
	To          time.Time    `json:"to"`
	Points      []UsagePoint `json:"points"`
	Total       Counters     `json:"total"`
}

// IsZero reports whether every figure is 0.
func (c Counters) IsZero() bool { return c == Counters{} }

// Cluster is a registered cluster as the API shows it. EnrollmentToken is
// set only in the answer of the registration: it is shown once (billing
// stores its SHA-256). Nodes, the nodes the cluster registered, only in the
// answer of GET /api/v1/clusters/{id}.
type Cluster struct {
	ClusterID string   `json:"cluster_id"`
	Tenants   []string `json:"tenants"`
	// Owner is the tenant that registered the cluster with its own tenant
	// key (and whose tenant keys may scale and deregister it); empty for a
	// cluster an admin registered.
	Owner           string `json:"owner_tenant,omitempty"`
	EnrollmentToken string `json:"enrollment_token,omitempty"`
	Nodes           []Node `json:"nodes,omitempty"`
}

// ClusterTenants is the answer of the cluster tenant calls: the tenants a
// cluster serves, and whether an add or remove changed nothing.
type ClusterTenants struct {
	ClusterID string   `json:"cluster_id"`
	Tenants   []string `json:"tenants"`
	Unchanged bool     `json:"unchanged,omitempty"`
}
