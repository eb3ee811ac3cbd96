package tier

import (
	"encoding/json"
	"fmt"
	"time"
)

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

// MarshalJSON writes MaxQueryDuration as a duration string ("30s"), like YAML.
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
