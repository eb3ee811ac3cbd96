package docs

// Limits are a tenant's quotas on what it stores, enforced by Apply so that
// every replica decides the same way. A zero field is unlimited.
type Limits struct {
	// StorageBytes bounds the tenant's stored bytes: Stats.Bytes +
	// Stats.IndexBytes, summed over its collections.
	StorageBytes int64
	// MaxCollections bounds the number of collections.
	MaxCollections int64
	// MaxDocumentsPerCollection bounds the documents of each collection.
	MaxDocumentsPerCollection int64
	// Refuse makes a command that passes a limit fail, applying nothing
	// (quota actions block and throttle). Without it the command is applied
	// and the limits it passed are listed in Result.Exceeded
	// (allow-with-overage, warn).
	Refuse bool
}

// Names of the limits in Result.Exceeded.
const (
	LimitStorageBytes              = "storage_bytes"
	LimitMaxCollections            = "max_collections"
	LimitMaxDocumentsPerCollection = "max_documents_per_collection"
)
