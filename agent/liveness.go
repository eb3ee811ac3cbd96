package agent

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/aerolithdb/aerolith/agent/httpapi"
	"github.com/aerolithdb/aerolith/internal/member"
	"github.com/aerolithdb/aerolith/internal/nodetls"
	"github.com/aerolithdb/aerolith/store"
)

// How live nodes are counted for the cluster-wide quotas (requests per
// second, API calls per hour and day, concurrent requests), which every node
// enforces as its 1/N share (see agent/quota):
//
// Every probeInterval each node lists the cluster's members (voters and
// non-voters, from its raft configuration) and asks every other member's
// /health, over HTTP (HTTPS verified against the cluster CA when the node
// runs TLS) at the address the member advertises, with a
// probeTimeout deadline. N is this node plus the members that answered 200.
// A node that does not know a ready leader (it is cut off from the
// majority, or the cluster is electing) keeps its previous N rather than
// counting only itself, so a partitioned minority never grants itself a
// larger share; the majority side, which still reaches each other, lowers
// its N and takes over the unreachable nodes' shares.
//
// Before the first probe round has counted (the store has no ready leader
// yet, or the probes are still under way), N is the number of voters in
// this node's raft configuration, or --bootstrap-expect while that
// configuration is still empty (a forming cluster), so a starting node
// never takes the whole cluster-wide limit for itself; it is set before
// the tenants' policies are installed and re-read every
// startupProbeInterval until the first probe round counts.
//
// Error bound, on top of the quota package's (L/P×t + L for a limit L per
// period P when every node uses the same N): a node's N lags the truth by at
// most probeInterval + probeTimeout. A node that dies is still counted for
// that long, so the cluster under-admits (at most 1/N of L for that time); a
// node that joins, or comes back, is counted by the others that long after
// it serves, so the cluster may over-admit by up to L/N over that time. A
// partitioned node that keeps serving (stale reads) keeps its share L/N
// while the majority side shares all of L: at most L/N over the limit for
// the duration of the partition.
const (
	probeInterval = 5 * time.Second
	probeTimeout  = 2 * time.Second
	// startupProbeInterval paces the rounds until the first one counts.
	startupProbeInterval = 500 * time.Millisecond
)

// memberLister is what counting needs of the store.
type memberLister interface {
	Members(ctx context.Context) ([]store.Member, error)
	Ready() bool
}

// liveCounter counts live nodes (see above).
type liveCounter struct {
	st   memberLister
	self string
	peer member.PeerHTTP
}

// newLiveCounter counts the live members of st; tl is the node's TLS (nil
// for plain HTTP), which the probes use.
func newLiveCounter(st memberLister, self string, tl *nodetls.TLS) *liveCounter {
	return &liveCounter{st: st, self: self, peer: member.PeerHTTP{Scheme: tl.Scheme(), Client: tl.PeerClient(probeTimeout)}}
}

// count returns the number of live nodes, and ok=false when this node
// cannot tell (no ready leader known, or the members cannot be listed):
// the caller then keeps its previous count.
func (c *liveCounter) count(ctx context.Context) (int, bool) {
	if !c.st.Ready() {
		return 0, false
	}
	members, err := c.st.Members(ctx)
	if err != nil {
		return 0, false
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 1
	for _, m := range members {
		addr := m.Meta[httpapi.MetaHTTPAddr]
		if m.ID == c.self || addr == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.healthy(ctx, addr) {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return n, true
}

// initial returns the node count to share the limits among before any
// probe round counted: the voters of this node's raft configuration, else
// expect (--bootstrap-expect) while the configuration is empty, else 1.
func (c *liveCounter) initial(ctx context.Context, expect int) int {
	voters := 0
	if members, err := c.st.Members(ctx); err == nil {
		for _, m := range members {
			if m.Voter {
				voters++
			}
		}
	}
	switch {
	case voters > 0:
		return voters
	case expect > 0:
		return expect
	}
	return 1
}

// liveRound runs one round of the live node count on gov: before the first
// probe round counted (probed false) it shares the limits among the
// initial count, then probes; it returns whether a probe round has counted
// now or before.
func liveRound(ctx context.Context, lc *liveCounter, gov *governor, expect int, probed bool) bool {
	if !probed {
		gov.setNodes(lc.initial(ctx, expect))
	}
	if n, ok := lc.count(ctx); ok && ctx.Err() == nil {
		gov.setNodes(n)
		return true
	}
	return probed
}

// healthy reports whether the node at addr (host:port) answers /health.
func (c *liveCounter) healthy(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.peer.URL(addr, "/health"), nil)
	if err != nil {
		return false
	}
	res, err := c.peer.Client.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}
