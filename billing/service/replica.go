package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	agentconfig "github.com/aerolithdb/aerolith/agent/config"
)

// The replica identity and --join resolution follow the agent's rules (see
// agent/nodeid.go and agent/join.go, which are not exported): the node id
// lives in <data-dir>/node-id, and each --join address may be a replica's
// raft or HTTP address.

// nodeIDFile is the file in the data directory that remembers the node id.
const nodeIDFile = "node-id"

// replicaID returns the node id for dataDir: the stored one (which a
// configured id must match), or the configured or a generated one, stored
// on first start.
func replicaID(dataDir, configured string) (string, error) {
	path := filepath.Join(dataDir, nodeIDFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		stored := strings.TrimSpace(string(b))
		if !agentconfig.ValidNodeID(stored) {
			return "", fmt.Errorf("node-id: %s holds an invalid id %q; fix or delete the file", path, stored)
		}
		if configured != "" && configured != stored {
			return "", fmt.Errorf("node-id: data dir %s belongs to replica %q, not %q; start with --node-id %s or use another --data-dir", dataDir, stored, configured, stored)
		}
		return stored, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("node-id: %w", err)
	}
	id := configured
	if id == "" {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("node-id: generate: %w", err)
		}
		id = "billing-" + hex.EncodeToString(b[:])
	}
	if err := writeSynced(path, []byte(id+"\n")); err != nil {
		return "", fmt.Errorf("node-id: store in %s: %w", dataDir, err)
	}
	return id, nil
}

// writeSynced writes data to path through a synced temporary file and a
// rename, then syncs the directory.
func writeSynced(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Join resolution timing: one probe, and how long an address refusing
// connections (its process not started yet) is retried.
const (
	joinProbeTimeout = 2 * time.Second
	joinRefusedWait  = 5 * time.Second
)

// resolveReplicas turns --join addresses into raft addresses: an address
// answering GET /api/v1/cluster/self is an HTTP address and is replaced by
// the raft address it reports; anything else is taken as a raft address.
// This replica's own addresses map without a probe; probes run in
// parallel.
func resolveReplicas(ctx context.Context, log *slog.Logger, join []string, selfHTTP, selfRaft string) []string {
	out := make([]string, len(join))
	client := &http.Client{Timeout: joinProbeTimeout}
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
			if raft, ok := probeReplica(ctx, client, addr); ok {
				log.Info("join address is an http address", "join", addr, "raft_addr", raft)
				out[i] = raft
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	res := out[:0]
	for _, a := range out {
		if !seen[a] {
			seen[a] = true
			res = append(res, a)
		}
	}
	return res
}

// probeReplica asks addr for its raft address, retrying while the address
// refuses connections (for up to joinRefusedWait).
func probeReplica(ctx context.Context, client *http.Client, addr string) (string, bool) {
	deadline := time.Now().Add(joinRefusedWait)
	backoff := 50 * time.Millisecond
	for {
		raft, ok, refused := probeOnce(ctx, client, addr)
		if ok || !refused || time.Now().After(deadline) {
			return raft, ok
		}
		select {
		case <-ctx.Done():
			return "", false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

func probeOnce(ctx context.Context, client *http.Client, addr string) (raft string, ok, refused bool) {
	ctx, cancel := context.WithTimeout(ctx, joinProbeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/v1/cluster/self", nil)
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
