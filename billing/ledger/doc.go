// Package ledger is the billing service's replicated state machine: tenants,
// clusters and enrollment, the usage ledger, invoices, payments, dunning,
// the per-tenant audit trail and signed tenant policies. It runs on the
// store (store.StateMachine): the store calls Apply on every replica, in log
// order, inside a bbolt read-write transaction; reads are plain functions
// taking a *bolt.Tx (store.View).
//
// # Commands
//
// Each operation is a command struct (CreateTenant, UpdateTenant,
// ChangeTier, SuspendTenant, ResumeTenant, DeleteTenant, RevokeAgentKey,
// RegisterCluster, IngestUsage, CloseDraft, FinalizeInvoice, VoidInvoice,
// MarkUncollectible, RecordPayment, SetCatalog, SetSigningKey,
// CreateAPIKey, RevokeAPIKey, RegisterNode, AddClusterTenant,
// RemoveClusterTenant, DeregisterCluster, SetClusterCA,
// RegisterOwnedCluster, IssueEnrollmentToken) encoded
// compactly by Encode and proposed with store.Propose; the bytes that come
// back decode with DecodeResult. Every command carries a Header: Time, the
// proposer's clock in Unix nanoseconds, and Actor, who asked (for the
// audit trail). Apply never reads a clock or a random source, and never
// lets map order reach the state: ids (NewID), tokens and times come from
// the proposer. It validates everything before writing, so a failing
// command leaves the transaction untouched. Failures come back in
// Result.Err, an *Error whose code maps to HTTP: ErrInvalid 400 (the
// message names the field, e.g. `tier: unknown tier "gold" (want free,
// starter, professional or enterprise)`), ErrForbidden 403, ErrNotFound
// 404, ErrConflict and ErrState 409, ErrTooLarge 413, ErrInternal 500.
// Commands that are replayed (a retry after store.ErrLeadershipLost, a
// second scheduler replica) are idempotent where it matters: CreateTenant,
// RegisterCluster, RecordPayment and CreateAPIKey with identical content
// and Time, RegisterNode with the same addresses and no later At,
// RevokeAPIKey of a revoked key, CloseDraft for an existing
// period, FinalizeInvoice of a finalized invoice, VoidInvoice of a void
// one, AddClusterTenant of a served tenant, ChangeTier to the current
// tier; these succeed with Result.Unchanged.
//
// The first byte of an encoded command is its format. Encode writes format
// 2; Decode also reads format 1, the log format before RecordPayment.Credit
// and unique tenant names, and such a command is applied by the rules of
// its time (an overpayment credited without asking, a duplicate name
// accepted), so a replica replaying an old log reaches the state its first
// replicas did.
//
// The tier catalog is part of the state (SetCatalog; tier.Defaults() until
// one is set), so every replica rates with the same prices; the billing
// service proposes its configured catalog at start (identical: a no-op).
//
// # Usage ingestion and deduplication
//
// IngestUsage carries up to MaxBatchRecords records of one cluster. Each
// record is identified forever by (cluster, node, incarnation, seq): each
// outbox of a node (an incarnation, drawn at random when the agent creates
// its outbox file, so a node whose data directory was wiped starts a new
// one) numbers its records 1, 2, 3, ... without reuse. Records without an
// incarnation (agents from before them) are identified by (cluster, node,
// seq) as they always were. Per (cluster, node, incarnation) the ledger
// keeps a watermark W (every seq <= W was seen) and the ranges of seqs seen
// above it; W advances as gaps fill, so an in-order stream costs one varint
// of state and the state never exceeds MaxSeqGaps ranges. A record already
// seen is reported duplicate (the agent drops it either way). A record is
// rejected, with a reason naming the field, when its tenant is not assigned
// to the cluster, unknown, or deleted before the window, when the window is
// malformed or starts more than MaxFutureSkew after the batch's Time, or
// when a counter would take the tenant's bucket past 2^63-1. A rejection
// consumes the seq (redelivery is a duplicate) except one with Retry set:
// the node has MaxSeqGaps gaps outstanding, and the record is not recorded.
//
// Accepted usage is added to per-tenant aggregates keyed by the start of
// its window, in buckets of Config.UsageBucket (one hour by default). Usage
// reports these (Usage, by hour or day) and invoices rate them. Counters
// are uint64 but limited to int64 because billing/rating is: storage in
// byte-seconds overflows int64 beyond about 3.5 TB held for a whole month;
// ingestion then rejects the record and rating a period whose sum is out of
// range fails with ErrInvalid naming the meter, never wrapping.
//
// # Billing periods and invoices
//
// A tenant's invoices cover contiguous periods: the first starts at its
// creation (whole seconds) and each next one where the previous ended.
// DueForDraft lists the periods that have ended, by Cycle (calendar month
// or a fixed length such as 1h), and CloseDraft creates the draft. The
// invoice id derives from (tenant, period start) (InvoiceID), so there is
// exactly one invoice per tenant and period whatever the retries or the
// number of scheduler replicas; overlapping or gapped periods are refused.
//
// A draft is rated, inside Apply, from the aggregates, the tenant's tier
// history and the catalog snapshot taken at CloseDraft: the period is cut
// into segments at each tier change, and each segment is rated with
// rating.Rate over that segment within the period's cycle, so the base fee
// and the included allowances are prorated by the second and usage is
// billed at the tier in force when it was metered (by bucket). The first
// invoice also bills any usage reported with a window before the tenant's
// creation. A draft accepts late usage during the grace period; its lines
// are a preview, recomputed on every read. FinalizeInvoice re-rates it,
// adds adjustments for late usage of earlier periods, applies the credit
// balance (a LineCredit line), and freezes it with a due date: open, or
// paid at once when the total is zero. It then changes only by status:
// paid when payments cover it, void, or uncollectible (still payable).
//
// Late usage: usage whose bucket falls in a finalized (open, paid,
// uncollectible) invoice's period still lands in the aggregates, and that
// invoice is marked as having late usage. The next finalized invoice of the
// tenant carries one adjustment line per such period: the period re-rated
// with all its usage (same segments, same tier snapshot) minus the cents
// already billed for it. Because the difference is taken in rounded cents,
// the invoices of a period plus its adjustments always total exactly what
// rating the period's de-duplicated usage at once would. Usage for a void
// invoice's period is not billed, nor late usage of a deleted tenant whose
// final invoice is already finalized (there is no next invoice).
//
// Voiding an invoice returns the payments made on it and the credit it
// applied to the tenant's credit balance. Payments recorded without an
// invoice become credit; a payment above an invoice's amount due is
// refused unless RecordPayment.Credit says the excess is a prepayment, and
// then becomes credit too (tenant.credited in the audit trail).
//
// # Dunning and suspension
//
// Overdue lists open invoices past due by more than a grace of active
// tenants; the scheduler proposes SuspendTenant with ReasonDunning, which
// is refused unless an open invoice is past due at the command's Time (a
// payment racing the scheduler wins). A payment (or a void) that leaves no
// open invoice past due resumes a tenant suspended for dunning in the same
// Apply. A tenant suspended by an administrator (any other reason) stays
// suspended until ResumeTenant. ResumeTenant (an administrator's decision)
// waives the invoices past due at that moment for dunning
// (Tenant.DunningWaived): the scheduler does not suspend the tenant again
// for them, while an invoice that falls past due later does, and they can
// still be paid. Suspension does not stop billing; deletion
// is soft and ends billing at its time (a final, prorated invoice covers
// the period up to it), while invoices, payments and the audit trail stay.
//
// Every state change of a tenant, cluster, invoice, payment or billing API
// key appends an AuditEntry (time, actor, entity, action, details) to the
// tenant's trail
// (Audit), numbered from 1. Usage ingestion is not audited record by
// record: the usage ledger is its own record.
//
// # Policies
//
// GetPolicy returns what agents enforce: tier limits, included usage,
// quota action, status, revoked agent key ids (RevokeAgentKey: data API
// keys the agents must refuse), a version that increases with
// every change, and when it was issued, all derived from the replicated
// state, as a contract.Policy (billing/contract). SetSigningKey stores an
// ed25519 seed once (proposed by the first leader), so every replica signs
// a policy identically (SignedPolicyFor, with contract.SignPolicy); agents
// check it offline with contract.VerifyPolicy and the public key.
//
// # Billing API keys
//
// A billing API key is a bearer key for the billing service's own HTTP
// API, scoped to one tenant, with a role: APIKeyRoleRead reads the
// tenant's record, usage, invoices, payments, audit trail and policy;
// APIKeyRoleTenant also acts for the tenant, and a cluster it registers
// (RegisterOwnedCluster) records the tenant as its owner (Cluster.Owner).
// It is a different thing from the agent keys of RevokeAgentKey, which
// authenticate the agents' data API and are revoked through the tenant's
// policy: creating or revoking a billing API key never changes the
// tenant's policy, and RevokeAgentKey never revokes a billing API key.
// The proposer generates the key id and the secret (shown once) and
// proposes CreateAPIKey with the secret's SHA-256 and, optionally, its
// last four characters; the secret never reaches the log. APIKeyByHash
// finds a key from the hash of a presented secret (revoked keys included,
// so the caller can say so), ListAPIKeys lists a tenant's keys without
// hashes. Creation and revocation are audited on the tenant's trail
// (entity "api_key", actions api_key.created and api_key.revoked, with
// the actor and the command's time); agent key revocations are audited as
// tenant.key_revoked.
//
// # Reads
//
// GetTenant, ListTenants, GetCluster, ClusterByToken, ClusterNodes, Usage, GetInvoice,
// ListInvoices, GetPayment, Payments, Audit, Catalog, SigningKey, GetPolicy,
// APIKeyByHash, ListAPIKeys, and for the scheduler DueForDraft, DueForFinalize and Overdue.
// The stored types (Tenant, Invoice, Payment, Node, UsageSeries, ...) are
// the ledger's own; their Wire methods map them to billing/contract's wire
// types, which the HTTP API answers with (billing/invoice renders an
// invoice as CSV or HTML). The HTTP layer decodes request bodies with
// DecodeUsageBatch, DecodeTenantRequest and DecodeTenantPatch (strict,
// size-limited, errors naming the field).
//
// # Storage
//
// All buckets are named "ledger.*" (see layout.go); the store's "_store*"
// buckets are left alone. Records are JSON except the hot path's: usage
// buckets (56 bytes of big-endian counters) and deduplication state
// (varints).
package ledger
