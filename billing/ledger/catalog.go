package ledger

import (
	"bytes"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/tier"
)

// catalogState versions the stored catalog.
type catalogState struct {
	Version uint64    `json:"version"`
	SetAt   time.Time `json:"set_at"`
}

// Catalog returns the tier catalog in force: the one last set with
// SetCatalog, or tier.Defaults() before any.
func Catalog(tx *bolt.Tx) (tier.Catalog, error) {
	c, err := loadCatalog(tx)
	if err != nil {
		return tier.Catalog{}, err
	}
	return c, nil
}

func loadCatalog(tx *bolt.Tx) (tier.Catalog, *Error) {
	raw := get(tx, bMeta, keyCatalog)
	if raw == nil {
		return tier.Defaults(), nil
	}
	var c tier.Catalog
	if err := json.Unmarshal(raw, &c); err != nil {
		return tier.Catalog{}, internalf("corrupt stored catalog: %v", err)
	}
	return c, nil
}

func loadCatalogState(tx *bolt.Tx) (catalogState, *Error) {
	var s catalogState
	_, err := getJSON(tx, bMeta, keyCatalogState, &s)
	return s, err
}

func (a *applier) setCatalog(c SetCatalog) Result {
	if err := c.Catalog.Validate(); err != nil {
		return Result{Err: invalidf("catalog: %v", err)}
	}
	newRaw, err := json.Marshal(c.Catalog)
	if err != nil {
		return Result{Err: invalidf("catalog: %v", err)}
	}
	cur, e := loadCatalog(a.tx)
	if e != nil {
		return Result{Err: e}
	}
	curRaw, err := json.Marshal(cur)
	if err != nil {
		return Result{Err: internalf("catalog: %v", err)}
	}
	if bytes.Equal(newRaw, curRaw) {
		return Result{Unchanged: true}
	}
	// Every tier a tenant may still be billed on must stay.
	if b := bucket(a.tx, bTenants); b != nil {
		cur := b.Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			var t Tenant
			if err := json.Unmarshal(v, &t); err != nil {
				return Result{Err: internalf("corrupt tenant %q: %v", k, err)}
			}
			if t.Status == StatusDeleted && !t.BilledThrough.Before(billableEnd(&t)) {
				continue
			}
			for _, seg := range t.TierHistory {
				if _, ok := c.Catalog.Get(seg.Tier); !ok {
					return Result{Err: invalidf("catalog: tier %q is missing but tenant %q is (or is still to be billed) on it", seg.Tier, t.ID)}
				}
			}
		}
	}
	st, e := loadCatalogState(a.tx)
	if e != nil {
		return Result{Err: e}
	}
	st.Version++
	st.SetAt = a.now()
	put(a.tx, bMeta, keyCatalog, newRaw)
	putJSON(a.tx, bMeta, keyCatalogState, st)
	return Result{}
}
