package agent

import (
	"context"
	"maps"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/store"
)

// storageObserver receives a tenant's stored bytes at an instant;
// *meter.Meter implements it.
type storageObserver interface {
	ObserveStorage(tenant string, bytes uint64, now time.Time)
}

// storageFeed hands the meter each tenant's stored bytes (what the storage
// quota counts: docs Stats.Bytes + IndexBytes), for the byte-seconds the
// leader integrates.
//
// Changes come from inside Apply (document.Config.OnStorage), in log order.
// That misses the state a node starts with and state installed by a
// snapshot, so the feed also seeds every tenant from a read of the state:
// after enrollment and whenever this node gains leadership. A seed must
// not overwrite a newer value Apply reported while the read ran (Apply
// reports before its transaction commits, so the read may not see it yet):
// the feed remembers the raft index of each tenant's last report and seeds
// a tenant only when no report came from an index above the applied index
// at which the read started. Only the cluster's tenants (from billing) are
// fed; the cluster admin's "default" tenant is not billed.
type storageFeed struct {
	meter    storageObserver
	applying func() uint64 // index of the command being applied
	now      func() time.Time

	mu      sync.Mutex
	tenants map[string]bool   // the cluster's tenants; nil until known
	last    map[string]uint64 // tenant → index of its last report from Apply
}

func newStorageFeed(m storageObserver, applying func() uint64) *storageFeed {
	return &storageFeed{meter: m, applying: applying, now: time.Now, last: map[string]uint64{}}
}

// onStorage is document.Config.OnStorage: called inside Apply, in log order.
func (f *storageFeed) onStorage(tenant string, bytes int64, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last[tenant] = f.applying()
	if f.tenants[tenant] {
		f.meter.ObserveStorage(tenant, uint64(max(bytes, 0)), at)
	}
}

// setTenants sets the tenants whose storage is metered.
func (f *storageFeed) setTenants(tenants []string) {
	set := make(map[string]bool, len(tenants))
	for _, t := range tenants {
		set[t] = true
	}
	f.mu.Lock()
	f.tenants = set
	f.mu.Unlock()
}

// stateReader is what seeding needs of the store.
type stateReader interface {
	View(ctx context.Context, c store.Consistency, fn func(*bolt.Tx) error) error
	AppliedIndex() uint64
}

// seed reads every fed tenant's stored bytes from this node's state and
// reports those no newer Apply report superseded (see the type comment).
func (f *storageFeed) seed(ctx context.Context, st stateReader) error {
	f.mu.Lock()
	tenants := maps.Clone(f.tenants)
	f.mu.Unlock()
	if len(tenants) == 0 {
		return nil
	}
	// Read the applied index first: the read sees at least that state, and
	// any later change to a tenant was reported (with a higher index)
	// before its transaction committed.
	from := st.AppliedIndex()
	bytes := make(map[string]int64, len(tenants))
	err := st.View(ctx, store.Stale, func(tx *bolt.Tx) error {
		for t := range tenants {
			s, err := document.TenantStats(tx, t)
			if err != nil {
				return err
			}
			bytes[t] = s.Bytes + s.IndexBytes
		}
		return nil
	})
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	for t, b := range bytes {
		if f.last[t] > from || !f.tenants[t] {
			continue
		}
		f.meter.ObserveStorage(t, uint64(max(b, 0)), now)
	}
	return nil
}
