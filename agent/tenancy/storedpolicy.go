package tenancy

import (
	"fmt"
	"time"

	"github.com/aerolithdb/aerolith/billing/contract"
)

// storedPolicy is a tenant policy as this agent stores it in its replicated
// state (policyRecord.Policy). It is the agent's own type, not the
// contract's, so renaming a field of contract.Policy changes billing's API
// but never the agent's data directories: the JSON names and field order
// here are the on-disk format (pinned by testdata/policy_record*.golden,
// the encoding ledger.Policy produced before the contract package).
type storedPolicy struct {
	Tenant           string         `json:"tenant_id"`
	Tier             string         `json:"tier"`
	Status           string         `json:"status"`
	Limits           storedLimits   `json:"limits"`
	Included         storedIncluded `json:"included"`
	QuotaAction      string         `json:"quota_action"`
	RevokedAgentKeys []string       `json:"revoked_keys"`
	Version          uint64         `json:"version"`
	IssuedAt         time.Time      `json:"issued_at"`
}

// storedLimits is storedPolicy's tier limits; MaxQueryDuration is stored as
// a duration string ("30s").
type storedLimits struct {
	StorageBytes              int64  `json:"storage_bytes"`
	APICallsPerDay            int64  `json:"api_calls_per_day"`
	APICallsPerHour           int64  `json:"api_calls_per_hour"`
	RequestsPerSecond         int64  `json:"requests_per_second"`
	ConcurrentConnections     int64  `json:"concurrent_connections"`
	MaxQueryDuration          string `json:"max_query_duration"`
	MaxCollections            int64  `json:"max_collections"`
	MaxDocumentsPerCollection int64  `json:"max_documents_per_collection"`
	RetentionDays             int64  `json:"retention_days"`
}

type storedIncluded struct {
	Reads             int64 `json:"reads"`
	Writes            int64 `json:"writes"`
	Queries           int64 `json:"queries"`
	StorageByteMonths int64 `json:"storage"`
	EgressBytes       int64 `json:"egress"`
	QueryComputeMs    int64 `json:"query_compute"`
}

// storePolicy maps a policy to its stored form.
func storePolicy(p contract.Policy) storedPolicy {
	l, in := p.Limits, p.Included
	return storedPolicy{
		Tenant: p.Tenant, Tier: p.Tier, Status: string(p.Status),
		Limits: storedLimits{
			StorageBytes: l.StorageBytes, APICallsPerDay: l.APICallsPerDay, APICallsPerHour: l.APICallsPerHour,
			RequestsPerSecond: l.RequestsPerSecond, ConcurrentConnections: l.ConcurrentConnections,
			MaxQueryDuration: l.MaxQueryDuration.String(), MaxCollections: l.MaxCollections,
			MaxDocumentsPerCollection: l.MaxDocumentsPerCollection, RetentionDays: l.RetentionDays,
		},
		Included: storedIncluded{
			Reads: in.Reads, Writes: in.Writes, Queries: in.Queries,
			StorageByteMonths: in.StorageByteMonths, EgressBytes: in.EgressBytes, QueryComputeMs: in.QueryComputeMs,
		},
		QuotaAction: string(p.QuotaAction), RevokedAgentKeys: p.RevokedAgentKeys,
		Version: p.Version, IssuedAt: p.IssuedAt,
	}
}

// policy maps the stored form back; it fails only for a stored duration
// that does not parse (a corrupt record).
func (s storedPolicy) policy() (contract.Policy, error) {
	var d time.Duration
	if s.Limits.MaxQueryDuration != "" {
		var err error
		if d, err = time.ParseDuration(s.Limits.MaxQueryDuration); err != nil {
			return contract.Policy{}, fmt.Errorf("max_query_duration: %w", err)
		}
	}
	l, in := s.Limits, s.Included
	return contract.Policy{
		Tenant: s.Tenant, Tier: s.Tier, Status: contract.Status(s.Status),
		Limits: contract.Limits{
			StorageBytes: l.StorageBytes, APICallsPerDay: l.APICallsPerDay, APICallsPerHour: l.APICallsPerHour,
			RequestsPerSecond: l.RequestsPerSecond, ConcurrentConnections: l.ConcurrentConnections,
			MaxQueryDuration: d, MaxCollections: l.MaxCollections,
			MaxDocumentsPerCollection: l.MaxDocumentsPerCollection, RetentionDays: l.RetentionDays,
		},
		Included: contract.Included{
			Reads: in.Reads, Writes: in.Writes, Queries: in.Queries,
			StorageByteMonths: in.StorageByteMonths, EgressBytes: in.EgressBytes, QueryComputeMs: in.QueryComputeMs,
		},
		QuotaAction: contract.QuotaAction(s.QuotaAction), RevokedAgentKeys: s.RevokedAgentKeys,
		Version: s.Version, IssuedAt: s.IssuedAt,
	}, nil
}
