package contract

import (
	"encoding/json"
	"fmt"
	"time"
)

// QuotaAction says what agents do when a tenant reaches a limit or exhausts
// an included allowance.
type QuotaAction string

// The quota actions. An agent treats an action it does not know as Block
// (failing closed).
const (
	// Block rejects requests over the limit (HTTP 429/403).
	Block QuotaAction = "block"
	// Throttle slows requests down to the limit instead of rejecting them.
	Throttle QuotaAction = "throttle"
	// AllowWithOverage lets usage continue and bills it at the overage prices.
	AllowWithOverage QuotaAction = "allow_with_overage"
	// Warn lets usage continue and notifies the tenant; priced meters are
	// still billed.
	Warn QuotaAction = "warn"
)

// Limits are the hard figures agents enforce for a tenant, as its policy
// carries them (the tier's limits; billing/tier reads them from its YAML
// file, hence the yaml tags). Every limit is positive; there is no
// "unlimited" value.
type Limits struct {
	StorageBytes              int64         `yaml:"storage_bytes" json:"storage_bytes"`
	APICallsPerDay            int64         `yaml:"api_calls_per_day" json:"api_calls_per_day"`
	APICallsPerHour           int64         `yaml:"api_calls_per_hour" json:"api_calls_per_hour"`
	RequestsPerSecond         int64         `yaml:"requests_per_second" json:"requests_per_second"`
	ConcurrentConnections     int64         `yaml:"concurrent_connections" json:"concurrent_connections"`
	MaxQueryDuration          time.Duration `yaml:"max_query_duration" json:"max_query_duration"`
	MaxCollections            int64         `yaml:"max_collections" json:"max_collections"`
	MaxDocumentsPerCollection int64         `yaml:"max_documents_per_collection" json:"max_documents_per_collection"`
	RetentionDays             int64         `yaml:"retention_days" json:"retention_days"`
}

// Included is the usage the tier's base price covers during a whole billing
// month, per meter, in each meter's base unit.
type Included struct {
	Reads             int64 `json:"reads"`
	Writes            int64 `json:"writes"`
	Queries           int64 `json:"queries"`
	StorageByteMonths int64 `json:"storage"`
	EgressBytes       int64 `json:"egress"`
	QueryComputeMs    int64 `json:"query_compute"`
}

// limitsText is Limits with the duration as text, for JSON.
type limitsText struct {
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

// MarshalJSON writes MaxQueryDuration as a duration string ("30s").
func (l Limits) MarshalJSON() ([]byte, error) {
	return json.Marshal(limitsText{
		StorageBytes:              l.StorageBytes,
		APICallsPerDay:            l.APICallsPerDay,
		APICallsPerHour:           l.APICallsPerHour,
		RequestsPerSecond:         l.RequestsPerSecond,
		ConcurrentConnections:     l.ConcurrentConnections,
		MaxQueryDuration:          l.MaxQueryDuration.String(),
		MaxCollections:            l.MaxCollections,
		MaxDocumentsPerCollection: l.MaxDocumentsPerCollection,
		RetentionDays:             l.RetentionDays,
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (l *Limits) UnmarshalJSON(b []byte) error {
	var t limitsText
	if err := json.Unmarshal(b, &t); err != nil {
		return err
	}
	var d time.Duration
	if t.MaxQueryDuration != "" {
		var err error
		if d, err = time.ParseDuration(t.MaxQueryDuration); err != nil {
			return fmt.Errorf("max_query_duration: %w", err)
		}
	}
	*l = Limits{
		StorageBytes:              t.StorageBytes,
		APICallsPerDay:            t.APICallsPerDay,
		APICallsPerHour:           t.APICallsPerHour,
		RequestsPerSecond:         t.RequestsPerSecond,
		ConcurrentConnections:     t.ConcurrentConnections,
		MaxQueryDuration:          d,
		MaxCollections:            t.MaxCollections,
		MaxDocumentsPerCollection: t.MaxDocumentsPerCollection,
		RetentionDays:             t.RetentionDays,
	}
	return nil
}
