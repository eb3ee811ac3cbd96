package client

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/tier"
)

// TenantRequest creates a tenant; every field is required.
type TenantRequest struct {
	Organization string `json:"organization"`
	Name         string `json:"name"`
	Tier         string `json:"tier"`
	Email        string `json:"email"`
}

// TenantPatch changes a tenant; nil fields are left unchanged. A tier
// change is prorated by the second within the current period.
type TenantPatch struct {
	Organization *string `json:"organization,omitempty"`
	Name         *string `json:"name,omitempty"`
	Email        *string `json:"email,omitempty"`
	Tier         *string `json:"tier,omitempty"`
}

// ListTenantsOptions selects a page of tenants.
type ListTenantsOptions struct {
	Limit, Offset  int
	IncludeDeleted bool
}

// CreateTenant creates a tenant (its id is generated).
func (c *Client) CreateTenant(ctx context.Context, req TenantRequest) (contract.Tenant, error) {
	var t contract.Tenant
	err := c.send(ctx, http.MethodPost, "/api/v1/tenants", nil, req, &t, false)
	return t, err
}

// ListTenants returns a page of tenants (a tenant key sees its own only).
func (c *Client) ListTenants(ctx context.Context, o ListTenantsOptions) (contract.TenantPage, error) {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Offset > 0 {
		q.Set("offset", strconv.Itoa(o.Offset))
	}
	if o.IncludeDeleted {
		q.Set("include_deleted", "true")
	}
	var p contract.TenantPage
	err := c.send(ctx, http.MethodGet, "/api/v1/tenants", q, nil, &p, false)
	return p, err
}

// GetTenant returns a tenant.
func (c *Client) GetTenant(ctx context.Context, id string) (contract.Tenant, error) {
	var t contract.Tenant
	err := c.send(ctx, http.MethodGet, "/api/v1/tenants/"+seg(id), nil, nil, &t, false)
	return t, err
}

// UpdateTenant applies a patch and returns the tenant.
func (c *Client) UpdateTenant(ctx context.Context, id string, p TenantPatch) (contract.Tenant, error) {
	var t contract.Tenant
	err := c.send(ctx, http.MethodPatch, "/api/v1/tenants/"+seg(id), nil, p, &t, false)
	return t, err
}

// SetTier moves a tenant to another tier from now on.
func (c *Client) SetTier(ctx context.Context, id, tierName string) (contract.Tenant, error) {
	t, _, err := c.ChangeTier(ctx, id, tierName)
	return t, err
}

// ChangeTier moves a tenant to another tier from now on; changed is false
// when the tenant was already on it (nothing changed, nothing audited).
func (c *Client) ChangeTier(ctx context.Context, id, tierName string) (t contract.Tenant, changed bool, err error) {
	var out struct {
		contract.Tenant
		Unchanged bool `json:"unchanged"`
	}
	err = c.send(ctx, http.MethodPatch, "/api/v1/tenants/"+seg(id), nil, TenantPatch{Tier: &tierName}, &out, false)
	return out.Tenant, !out.Unchanged, err
}

type reasonBody struct {
	Reason string `json:"reason,omitempty"`
}

// SuspendTenant suspends a tenant by hand (reason "" means "manual"); a
// payment never lifts such a suspension.
func (c *Client) SuspendTenant(ctx context.Context, id, reason string) (contract.Tenant, error) {
	var t contract.Tenant
	err := c.send(ctx, http.MethodPost, "/api/v1/tenants/"+seg(id)+"/suspend", nil, reasonBody{reason}, &t, false)
	return t, err
}

// ResumeTenant reactivates a suspended tenant.
func (c *Client) ResumeTenant(ctx context.Context, id, reason string) (contract.Tenant, error) {
	var t contract.Tenant
	err := c.send(ctx, http.MethodPost, "/api/v1/tenants/"+seg(id)+"/resume", nil, reasonBody{reason}, &t, false)
	return t, err
}

// DeleteTenant soft-deletes a tenant (invoices are kept; a final invoice
// covers the period up to now).
func (c *Client) DeleteTenant(ctx context.Context, id string) (contract.Tenant, error) {
	var t contract.Tenant
	err := c.send(ctx, http.MethodDelete, "/api/v1/tenants/"+seg(id), nil, nil, &t, false)
	return t, err
}

// AuditPage is a page of a tenant's audit trail; Next is the after value
// of the next page (0 on the last page).
type AuditPage struct {
	Entries []contract.AuditEntry `json:"entries"`
	Next    uint64                `json:"next,omitempty"`
}

// Audit returns up to limit audit entries of a tenant with Seq > after.
func (c *Client) Audit(ctx context.Context, tenant string, after uint64, limit int) (AuditPage, error) {
	q := url.Values{}
	if after > 0 {
		q.Set("after", strconv.FormatUint(after, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var p AuditPage
	err := c.send(ctx, http.MethodGet, "/api/v1/tenants/"+seg(tenant)+"/audit", q, nil, &p, false)
	return p, err
}

// TenantKey describes a tenant's billing key (RoleRead or RoleTenant).
// Key is set only in the answer of CreateKey and CreateTenantKey: it is
// shown once; Last4 (its last four characters) tells keys apart later.
type TenantKey struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Name      string    `json:"name,omitempty"`
	Role      string    `json:"role"`
	Last4     string    `json:"last4,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`
	Key       string    `json:"key,omitempty"`
}

// CreateKey creates a read key (RoleRead) scoped to tenant, with the
// admin key or a tenant key of that tenant.
func (c *Client) CreateKey(ctx context.Context, tenant, name string) (TenantKey, error) {
	return c.createKey(ctx, tenant, RoleRead, name)
}

// ListKeys lists a tenant's billing keys of both roles, revoked ones
// included (never the keys themselves).
func (c *Client) ListKeys(ctx context.Context, tenant string) ([]TenantKey, error) {
	var out struct {
		Keys []TenantKey `json:"keys"`
	}
	err := c.send(ctx, http.MethodGet, "/api/v1/tenants/"+seg(tenant)+"/keys", nil, nil, &out, false)
	return out.Keys, err
}

// RevokeKey revokes a tenant's billing key (either role): from then on it
// is refused (IsUnauthenticated). A tenant key may revoke its own
// tenant's keys, itself included.
func (c *Client) RevokeKey(ctx context.Context, tenant, keyID string) (TenantKey, error) {
	var k TenantKey
	err := c.send(ctx, http.MethodDelete, "/api/v1/tenants/"+seg(tenant)+"/keys/"+seg(keyID), nil, nil, &k, true)
	return k, err
}

// RevokeAgentKey revokes one of a tenant's data API keys (the agents'
// keys, by id) through the tenant's policy: every agent refuses it once it
// refreshed the policy. It returns the tenant (RevokedAgentKeys lists the
// ids); revoking a revoked key changes nothing, so it is retried like a
// read.
func (c *Client) RevokeAgentKey(ctx context.Context, tenant, keyID string) (contract.Tenant, error) {
	var t contract.Tenant
	err := c.send(ctx, http.MethodDelete, "/api/v1/tenants/"+seg(tenant)+"/agent-keys/"+seg(keyID), nil, nil, &t, true)
	return t, err
}

// Policy returns a tenant's signed policy; verify it with
// contract.VerifyPolicy and the key from PublicKey.
func (c *Client) Policy(ctx context.Context, tenant string) (contract.SignedPolicy, error) {
	var sp contract.SignedPolicy
	err := c.send(ctx, http.MethodGet, "/api/v1/tenants/"+seg(tenant)+"/policy", nil, nil, &sp, false)
	return sp, err
}

// PublicKey returns the ed25519 key policies are signed with and its id.
func (c *Client) PublicKey(ctx context.Context) (ed25519.PublicKey, string, error) {
	var out struct {
		Algorithm string `json:"algorithm"`
		KeyID     string `json:"key_id"`
		PublicKey []byte `json:"public_key"`
	}
	if err := c.send(ctx, http.MethodGet, "/api/v1/policy/public-key", nil, nil, &out, false); err != nil {
		return nil, "", err
	}
	if out.Algorithm != "ed25519" || len(out.PublicKey) != ed25519.PublicKeySize {
		return nil, "", fmt.Errorf("policy public key: unexpected %s key of %d bytes", out.Algorithm, len(out.PublicKey))
	}
	return ed25519.PublicKey(out.PublicKey), out.KeyID, nil
}

// VerifiedPolicy fetches a tenant's policy and the public key and verifies
// the signature.
func (c *Client) VerifiedPolicy(ctx context.Context, tenant string) (contract.Policy, error) {
	sp, err := c.Policy(ctx, tenant)
	if err != nil {
		return contract.Policy{}, err
	}
	pub, _, err := c.PublicKey(ctx)
	if err != nil {
		return contract.Policy{}, err
	}
	return contract.VerifyPolicy(sp, pub)
}

// Enrollment is a registered cluster. EnrollmentToken is set only in the
// answer of RegisterCluster: it is shown once. Nodes, the nodes the
// cluster registered (RegisterNode), only in the answer of GetCluster.
type Enrollment = contract.Cluster

// GetCluster returns a registered cluster and its nodes (admin key, the
// cluster's own enrollment token, or a tenant key of its owner; anyone
// else gets IsNotFound).
func (c *Client) GetCluster(ctx context.Context, clusterID string) (Enrollment, error) {
	var e Enrollment
	err := c.send(ctx, http.MethodGet, "/api/v1/clusters/"+seg(clusterID), nil, nil, &e, false)
	return e, err
}

// RegisterNode registers a node of a cluster with the addresses it
// advertises (host:port), or refreshes them and its last-seen time; the
// client's key must be that cluster's enrollment token. It is idempotent,
// so it is retried after a 503 or a broken connection.
func (c *Client) RegisterNode(ctx context.Context, clusterID, nodeID, httpAddr, raftAddr string) (contract.Node, error) {
	body := struct {
		NodeID   string `json:"node_id"`
		HTTPAddr string `json:"http_addr"`
		RaftAddr string `json:"raft_addr"`
	}{nodeID, httpAddr, raftAddr}
	var n contract.Node
	err := c.send(ctx, http.MethodPost, "/api/v1/clusters/"+seg(clusterID)+"/nodes", nil, body, &n, true)
	return n, err
}

// ClusterTenants is the answer of the cluster tenant calls: the tenants a
// cluster serves, and whether an add or remove changed nothing.
type ClusterTenants = contract.ClusterTenants

// ListClusterTenants returns the tenants a cluster serves (admin key, the
// cluster's own enrollment token, or a tenant key of its owner).
func (c *Client) ListClusterTenants(ctx context.Context, clusterID string) (ClusterTenants, error) {
	var out ClusterTenants
	err := c.send(ctx, http.MethodGet, "/api/v1/clusters/"+seg(clusterID)+"/tenants", nil, nil, &out, false)
	return out, err
}

// AddClusterTenant makes a cluster serve one more tenant (admin key; a
// tenant key adds only its own tenant, to clusters its tenant owns); its
// agents pick it up without a restart. Adding a served tenant is a no-op
// (Unchanged), so the call is retried like a read.
func (c *Client) AddClusterTenant(ctx context.Context, clusterID, tenant string) (ClusterTenants, error) {
	var out ClusterTenants
	err := c.send(ctx, http.MethodPost, "/api/v1/clusters/"+seg(clusterID)+"/tenants/"+seg(tenant), nil, nil, &out, true)
	return out, err
}

// RemoveClusterTenant stops a cluster from serving a tenant (admin key; a
// tenant key removes only its own tenant, from clusters its tenant owns).
// Without force it fails with a conflict (IsConflict): billing cannot see
// whether the tenant still has data there. With force the tenant's data
// stays on the cluster, refused to its keys, until it is added back.
func (c *Client) RemoveClusterTenant(ctx context.Context, clusterID, tenant string, force bool) (ClusterTenants, error) {
	var q url.Values
	if force {
		q = url.Values{"force": {"true"}}
	}
	var out ClusterTenants
	err := c.send(ctx, http.MethodDelete, "/api/v1/clusters/"+seg(clusterID)+"/tenants/"+seg(tenant), q, nil, &out, false)
	return out, err
}

// DeregisterCluster ends a cluster's registration: its enrollment token
// stops working (DELETE /api/v1/clusters/{id}; idempotent, so retried).
// A tenant key deregisters clusters its tenant owns.
func (c *Client) DeregisterCluster(ctx context.Context, clusterID string) error {
	return c.send(ctx, http.MethodDelete, "/api/v1/clusters/"+seg(clusterID), nil, nil, nil, true)
}

// RegisterCluster registers a cluster serving tenants; clusterID "" lets
// the service choose one. With a tenant key (RoleTenant) tenants must be
// exactly the key's own tenant (IsPermissionDenied otherwise), and the
// cluster is then owned by it (Enrollment.Owner).
func (c *Client) RegisterCluster(ctx context.Context, clusterID string, tenants []string) (Enrollment, error) {
	body := struct {
		ClusterID string   `json:"cluster_id,omitempty"`
		Tenants   []string `json:"tenants"`
	}{clusterID, tenants}
	var e Enrollment
	err := c.send(ctx, http.MethodPost, "/api/v1/clusters", nil, body, &e, false)
	return e, err
}

// IssueEnrollmentToken gives registered cluster clusterID a new
// enrollment token (Enrollment.EnrollmentToken, shown once), for the
// admin key or the owning tenant's key. With revokePrevious the
// cluster's earlier tokens stop authenticating (a leaked token); without
// it they keep working, so nodes still holding a lost one are not cut
// off. A deregistered cluster is IsConflict, an unknown one IsNotFound.
// Not retried: a retry after a lost answer would issue a second token.
func (c *Client) IssueEnrollmentToken(ctx context.Context, clusterID string, revokePrevious bool) (Enrollment, error) {
	body := struct {
		RevokePrevious bool `json:"revoke_previous,omitempty"`
	}{revokePrevious}
	var e Enrollment
	err := c.send(ctx, http.MethodPost, "/api/v1/clusters/"+seg(clusterID)+"/enrollment-token", nil, body, &e, false)
	return e, err
}

// RegisterClusterWithToken registers a cluster as RegisterCluster does, under
// the caller's own clusterID and enrollment token
// (contract.NewEnrollmentToken), which the caller keeps before calling: a
// call repeated with the same id, tenants and token (after a crash, or
// when an answer was lost) registers nothing new and answers the same
// enrollment, so it is retried like a read. Another registration under
// the id answers IsConflict.
func (c *Client) RegisterClusterWithToken(ctx context.Context, clusterID, token string, tenants []string) (Enrollment, error) {
	body := struct {
		ClusterID       string   `json:"cluster_id"`
		Tenants         []string `json:"tenants"`
		EnrollmentToken string   `json:"enrollment_token"`
	}{clusterID, tenants, token}
	var e Enrollment
	err := c.send(ctx, http.MethodPost, "/api/v1/clusters", nil, body, &e, true)
	return e, err
}

// The usage types are the contract's; the aliases keep this package's
// names for its callers.
type (
	UsageRecord  = contract.UsageRecord
	RecordResult = contract.RecordResult
	IngestResult = contract.IngestResult
)

// Record outcomes of a usage batch.
const (
	RecordAccepted  = contract.RecordAccepted
	RecordDuplicate = contract.RecordDuplicate
	RecordRejected  = contract.RecordRejected
)

// SendUsage sends a batch of usage records; the client's key must be the
// cluster's enrollment token. It is retried on 503 and connection errors:
// records are idempotent by (cluster, node, seq), so a resent record is
// reported as a duplicate and counted once.
func (c *Client) SendUsage(ctx context.Context, records []UsageRecord) (IngestResult, error) {
	r := &request{method: http.MethodPost, path: "/api/v1/usage", accept: "application/json", idempotent: true,
		body: appendUsageBody(make([]byte, 0, 64+200*len(records)), records)}
	var res IngestResult
	if err := c.call(ctx, r, &res); err != nil {
		return IngestResult{}, err
	}
	if len(res.Records) != len(records) {
		return IngestResult{}, fmt.Errorf("usage: %d results for %d records", len(res.Records), len(records))
	}
	return res, nil
}

// UsageQuery selects a usage series. Zero times let the service choose
// (to: now; from: a day, or thirty days for daily granularity, before to).
type UsageQuery struct {
	From, To time.Time
	// Granularity is "hour" (default) or "day".
	Granularity string
}

// Usage returns a tenant's usage series.
func (c *Client) Usage(ctx context.Context, tenant string, q UsageQuery) (contract.UsageSeries, error) {
	v := url.Values{}
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339Nano))
	}
	if q.Granularity != "" {
		v.Set("granularity", q.Granularity)
	}
	var s contract.UsageSeries
	err := c.send(ctx, http.MethodGet, "/api/v1/tenants/"+seg(tenant)+"/usage", v, nil, &s, false)
	return s, err
}

// InvoiceQuery selects invoices: one tenant's (TenantID) or every
// tenant's, optionally of one status.
type InvoiceQuery struct {
	TenantID string
	Status   string
}

// ListInvoices lists invoices by tenant and period.
func (c *Client) ListInvoices(ctx context.Context, q InvoiceQuery) ([]contract.Invoice, error) {
	l, err := c.Invoices(ctx, q)
	return l.Invoices, err
}

// InvoiceList is the answer of Invoices.
type InvoiceList struct {
	Invoices []contract.Invoice `json:"invoices"`
	// BillingPeriod is the service's period ("month", "10m0s").
	BillingPeriod string `json:"billing_period"`
	// CurrentPeriod is the tenant's period not yet invoiced, when
	// InvoiceQuery.TenantID was given: its draft appears when it ends.
	CurrentPeriod *contract.OpenPeriod `json:"current_period,omitempty"`
}

// Invoices lists invoices by tenant and period, with the billing period
// and, for one tenant, its period not yet invoiced.
func (c *Client) Invoices(ctx context.Context, q InvoiceQuery) (InvoiceList, error) {
	v := url.Values{}
	if q.TenantID != "" {
		v.Set("tenant_id", q.TenantID)
	}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	var out InvoiceList
	err := c.send(ctx, http.MethodGet, "/api/v1/invoices", v, nil, &out, false)
	return out, err
}

// GetInvoice returns an invoice (a draft shows its current preview).
func (c *Client) GetInvoice(ctx context.Context, id string) (contract.Invoice, error) {
	var inv contract.Invoice
	err := c.send(ctx, http.MethodGet, "/api/v1/invoices/"+seg(id), nil, nil, &inv, false)
	return inv, err
}

// InvoiceDocument returns an invoice rendered as "csv" or "html".
func (c *Client) InvoiceDocument(ctx context.Context, id, format string) ([]byte, error) {
	var accept string
	switch format {
	case "csv":
		accept = "text/csv"
	case "html":
		accept = "text/html"
	default:
		return nil, fmt.Errorf("format: %q is unknown (want csv or html)", format)
	}
	r, err := newRequest(http.MethodGet, "/api/v1/invoices/"+seg(id), nil)
	if err != nil {
		return nil, err
	}
	r.query = url.Values{"format": {format}}
	r.accept = accept
	return c.do(ctx, r)
}

// FinalizeInvoice finalizes a draft; a zero dueAt lets the service apply
// its payment terms. Finalizing a finalized invoice returns it unchanged,
// so the call is retried like a read.
func (c *Client) FinalizeInvoice(ctx context.Context, id string, dueAt time.Time) (contract.Invoice, error) {
	body := struct {
		DueAt string `json:"due_at,omitempty"`
	}{}
	if !dueAt.IsZero() {
		body.DueAt = dueAt.UTC().Format(time.RFC3339)
	}
	var inv contract.Invoice
	err := c.send(ctx, http.MethodPost, "/api/v1/invoices/"+seg(id)+"/finalize", nil, body, &inv, true)
	return inv, err
}

// VoidInvoice voids a draft or open invoice.
func (c *Client) VoidInvoice(ctx context.Context, id, reason string) (contract.Invoice, error) {
	var inv contract.Invoice
	err := c.send(ctx, http.MethodPost, "/api/v1/invoices/"+seg(id)+"/void", nil, reasonBody{reason}, &inv, false)
	return inv, err
}

// MarkUncollectible writes off an open invoice (it can still be paid).
func (c *Client) MarkUncollectible(ctx context.Context, id, reason string) (contract.Invoice, error) {
	var inv contract.Invoice
	err := c.send(ctx, http.MethodPost, "/api/v1/invoices/"+seg(id)+"/uncollectible", nil, reasonBody{reason}, &inv, false)
	return inv, err
}

// Payment is a manual payment against an invoice.
type Payment struct {
	AmountCents int64 `json:"amount_cents"`
	// Method is "manual" (default) or "admin".
	Method string `json:"method,omitempty"`
	// ExternalRef is the payment's reference, unique across payments.
	ExternalRef string `json:"external_ref"`
	Note        string `json:"note,omitempty"`
	// Credit accepts an amount above the amount due and keeps the excess
	// as the tenant's credit (a prepayment); without it such a payment is
	// refused.
	Credit bool `json:"credit,omitempty"`
}

// PaymentResult is the answer of PayInvoice. Tenant is set when the
// payment resumed a tenant suspended by dunning.
type PaymentResult struct {
	Payment *contract.Payment `json:"payment"`
	Invoice *contract.Invoice `json:"invoice,omitempty"`
	Tenant  *contract.Tenant  `json:"tenant,omitempty"`
}

// ErrPaymentRecorded wraps the conflict of a payment whose external
// reference is already recorded (e.g. a retry after a lost answer).
var ErrPaymentRecorded = errors.New("payment with this external reference is already recorded")

// PayInvoice records a payment against an invoice. Reusing an external
// reference fails with an error matching both IsConflict and
// ErrPaymentRecorded.
func (c *Client) PayInvoice(ctx context.Context, id string, p Payment) (PaymentResult, error) {
	var res PaymentResult
	err := c.send(ctx, http.MethodPost, "/api/v1/invoices/"+seg(id)+"/payments", nil, p, &res, false)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusConflict && e.Code == CodeConflict {
		return res, fmt.Errorf("%w: %w", ErrPaymentRecorded, err)
	}
	return res, err
}

// Payments lists a tenant's payments, oldest first.
func (c *Client) Payments(ctx context.Context, tenant string) ([]contract.Payment, error) {
	var out struct {
		Payments []contract.Payment `json:"payments"`
	}
	err := c.send(ctx, http.MethodGet, "/api/v1/tenants/"+seg(tenant)+"/payments", nil, nil, &out, false)
	return out.Payments, err
}

// Pricing returns the tier catalog in force.
func (c *Client) Pricing(ctx context.Context) (tier.Catalog, error) {
	var cat tier.Catalog
	err := c.send(ctx, http.MethodGet, "/api/v1/payment/pricing", nil, nil, &cat, false)
	return cat, err
}

// WhoAmI describes the credential the client uses.
type WhoAmI struct {
	// Kind is "admin", "tenant" or "cluster".
	Kind string `json:"kind"`
	// Role is a tenant key's: RoleRead or RoleTenant.
	Role      string    `json:"role,omitempty"`
	Actor     string    `json:"actor"`
	TenantID  string    `json:"tenant_id,omitempty"`
	ClusterID string    `json:"cluster_id,omitempty"`
	Tenants   []string  `json:"tenants,omitempty"`
	Time      time.Time `json:"time"`
}

// WhoAmI asks the service who the client's credential is.
func (c *Client) WhoAmI(ctx context.Context) (WhoAmI, error) {
	var w WhoAmI
	err := c.send(ctx, http.MethodGet, "/api/v1/whoami", nil, nil, &w, false)
	return w, err
}

// Replica is one billing replica in ReplicaSet.
type Replica struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	Voter    bool   `json:"voter"`
	Leader   bool   `json:"leader"`
}

// ReplicaSet is the billing replica set as the answering replica sees it.
type ReplicaSet struct {
	NodeID       string    `json:"node_id"`
	LeaderID     string    `json:"leader_id"`
	State        string    `json:"state"`
	Term         uint64    `json:"term"`
	CommitIndex  uint64    `json:"commit_index"`
	AppliedIndex uint64    `json:"applied_index"`
	Members      []Replica `json:"members"`
}

// Replicas returns the replica set (admin key).
func (c *Client) Replicas(ctx context.Context) (ReplicaSet, error) {
	var rs ReplicaSet
	err := c.send(ctx, http.MethodGet, "/api/v1/cluster", nil, nil, &rs, false)
	return rs, err
}

// appendUsageBody appends the JSON body {"records":[...]} of a usage batch
// without reflection: agents send many batches, and this is their hot
// path. Zero counters are omitted; times are RFC 3339 with nanoseconds, in
// UTC.
func appendUsageBody(b []byte, records []UsageRecord) []byte {
	b = append(b, `{"records":[`...)
	for i := range records {
		r := &records[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"node_id":`...)
		b = appendJSONString(b, r.NodeID)
		if r.Incarnation != "" {
			b = append(b, `,"incarnation":`...)
			b = appendJSONString(b, r.Incarnation)
		}
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, r.Seq, 10)
		b = append(b, `,"tenant_id":`...)
		b = appendJSONString(b, r.TenantID)
		b = append(b, `,"start":"`...)
		b = r.Start.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","end":"`...)
		b = r.End.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
		for _, f := range [...]struct {
			name string
			v    uint64
		}{
			{`,"reads":`, r.Reads}, {`,"writes":`, r.Writes}, {`,"queries":`, r.Queries},
			{`,"query_compute_ms":`, r.QueryComputeMs}, {`,"ingress_bytes":`, r.IngressBytes},
			{`,"egress_bytes":`, r.EgressBytes}, {`,"storage_byte_seconds":`, r.StorageByteSeconds},
		} {
			if f.v != 0 {
				b = append(b, f.name...)
				b = strconv.AppendUint(b, f.v, 10)
			}
		}
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendJSONString appends s as a JSON string: plain printable ASCII
// directly, anything else through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
