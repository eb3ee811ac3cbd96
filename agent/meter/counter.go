package meter

import (
	"hash/maphash"
	"sync"
)

// Usage is what one or more requests of a tenant consumed.
type Usage struct {
	Reads          uint64
	Writes         uint64
	Queries        uint64
	QueryComputeMs uint64
	IngressBytes   uint64
	EgressBytes    uint64
}

// add adds u to c.
func (c *Usage) add(u Usage) {
	c.Reads += u.Reads
	c.Writes += u.Writes
	c.Queries += u.Queries
	c.QueryComputeMs += u.QueryComputeMs
	c.IngressBytes += u.IngressBytes
	c.EgressBytes += u.EgressBytes
}

// IsZero reports whether u counts nothing.
func (u Usage) IsZero() bool { return u == Usage{} }

const numShards = 64

// counter accumulates Usage per tenant, sharded by tenant so concurrent
// requests of different tenants rarely share a lock.
type counter struct {
	seed   maphash.Seed
	shards [numShards]shard
}

type shard struct {
	mu sync.Mutex
	m  map[string]*Usage
	_  [48]byte // keep shards on separate cache lines
}

func newCounter() *counter {
	c := &counter{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*Usage)
	}
	return c
}

func (c *counter) shard(tenant string) *shard {
	return &c.shards[maphash.String(c.seed, tenant)%numShards]
}

// add adds u to tenant's counters.
func (c *counter) add(tenant string, u Usage) {
	s := c.shard(tenant)
	s.mu.Lock()
	p := s.m[tenant]
	if p == nil {
		p = new(Usage)
		s.m[tenant] = p
	}
	p.add(u)
	s.mu.Unlock()
}

// take removes and returns every tenant's counters.
func (c *counter) take() map[string]Usage {
	out := make(map[string]Usage)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		m := s.m
		if len(m) == 0 {
			s.mu.Unlock()
			continue
		}
		s.m = make(map[string]*Usage, len(m))
		s.mu.Unlock()
		for t, u := range m {
			if !u.IsZero() {
				out[t] = *u
			}
		}
	}
	return out
}

// restore adds taken counters back (after a failed outbox append).
func (c *counter) restore(m map[string]Usage) {
	for t, u := range m {
		c.add(t, u)
	}
}
