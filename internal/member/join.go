package member

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/aerolithdb/aerolith/internal/backoff"
)

// ProbeTimeout bounds one HTTP probe of a --join address; RefusedWait is how
// long production callers retry an address that refuses connections (its
// process not started yet) before taking it as a raft address.
const (
	ProbeTimeout = 2 * time.Second
	RefusedWait  = 5 * time.Second
)

// PeerHTTP is how a node calls its peers' HTTP APIs: the URL scheme
// ("https" when the cluster runs TLS) and the client (verifying peers
// against the cluster CA). The zero value is plain HTTP with a client
// bounded by ProbeTimeout.
type PeerHTTP struct {
	Scheme string
	Client *http.Client
}

// URL returns scheme://addr+path.
func (p PeerHTTP) URL(addr, path string) string {
	scheme := p.Scheme
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + addr + path
}

func (p PeerHTTP) client() *http.Client {
	if p.Client == nil {
		return &http.Client{Timeout: ProbeTimeout}
	}
	return p.Client
}

// ResolveJoin turns --join addresses into raft addresses. Each address may
// be a member's raft or HTTP address: an address that answers
// GET <scheme>://<addr>/api/v1/cluster/self (open, cheap; through peer) is an HTTP address and
// is replaced by the raft address it reports; anything else (a raft port, a
// node that stays down) is taken as a raft address. An address refusing
// connections is retried for refusedWait (RefusedWait in production), since
// nodes started together come up at slightly different times. This node's
// own HTTP address maps to its raft address without a probe. Probes run in
// parallel; the result keeps the order of join without duplicates.
func ResolveJoin(ctx context.Context, log *slog.Logger, peer PeerHTTP, join []string, selfHTTP, selfRaft string, refusedWait time.Duration) []string {
	out := make([]string, len(join))
	client := peer.client()
	var wg sync.WaitGroup
	for i, addr := range join {
		switch addr {
		case selfRaft:
			out[i] = addr
			continue
		case selfHTTP:
			out[i] = selfRaft
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = addr
			if raftAddr, ok := probeSelfRetry(ctx, peer, client, addr, refusedWait); ok {
				log.Info("join address is an http address", "join", addr, "raft_addr", raftAddr)
				out[i] = raftAddr
			}
		}()
	}
	wg.Wait()
	return dedupe(out)
}

// probeSelfRetry is probeSelf, retried while addr refuses connections.
func probeSelfRetry(ctx context.Context, peer PeerHTTP, client *http.Client, addr string, wait time.Duration) (string, bool) {
	deadline := time.Now().Add(wait)
	b := backoff.New(50*time.Millisecond, 500*time.Millisecond)
	for {
		raftAddr, ok, refused := probeSelf(ctx, peer, client, addr)
		if ok || !refused || time.Now().After(deadline) {
			return raftAddr, ok
		}
		if b.Wait(ctx) != nil {
			return "", false
		}
	}
}

// probeSelf asks addr for /api/v1/cluster/self and returns the raft address
// it reports. refused is true when nothing listens at addr.
func probeSelf(ctx context.Context, peer PeerHTTP, client *http.Client, addr string) (raftAddr string, ok, refused bool) {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, peer.URL(addr, "/api/v1/cluster/self"), nil)
	if err != nil {
		return "", false, false
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", false, errors.Is(err, syscall.ECONNREFUSED)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", false, false
	}
	var self struct {
		RaftAddr string `json:"raft_addr"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&self); err != nil || self.RaftAddr == "" {
		return "", false, false
	}
	return self.RaftAddr, true, false
}

func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
