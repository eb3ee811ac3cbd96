package agent

import (
	"context"
	"log/slog"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/store"
)

// maxUnaddressableReported bounds the warnings of reportUnaddressable; the
// rest are counted.
const maxUnaddressableReported = 20

// reportUnaddressable is the check for documents stored with the id "." or
// "..", which the API refuses since a DELETE of .../documents/.. could drop
// a collection (see document.Unaddressable): it runs once at start
// and logs each such document this node holds at warn level, with what the
// user can do. Documents are neither changed nor hidden. It reads the
// local state (Stale): a lookup of two ids per collection, before the node
// has caught up, so what arrives later through replication is reported at
// the next start.
func reportUnaddressable(ctx context.Context, st *store.Store, log *slog.Logger) {
	var found []document.Ref
	err := st.View(ctx, store.Stale, func(tx *bolt.Tx) error {
		return document.Unaddressable(tx, func(r document.Ref) error {
			found = append(found, r)
			return nil
		})
	})
	if err != nil {
		log.Warn("checking for documents with the ids . and .. failed", "err", err)
		return
	}
	for i, r := range found {
		if i == maxUnaddressableReported {
			log.Warn("more documents with the id . or .. not listed", "count", len(found)-i)
			break
		}
		log.Warn("document with an id no URL path can carry: lists and queries return it, but it cannot be read, replaced or deleted by id; copy its data under another id if you need it by id (it is removed with its collection)",
			"tenant", r.Tenant, "collection", r.Collection, "id", r.ID)
	}
}
