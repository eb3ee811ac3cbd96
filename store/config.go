package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aerolithdb/aerolith/internal/seal"
)

// Log store kinds accepted by Config.LogStore.
const (
	// LogStoreBolt keeps the raft log in a bbolt file (raft-boltdb/v2).
	LogStoreBolt = "bolt"
	// LogStoreWAL keeps the raft log in segment files (raft-wal).
	LogStoreWAL = "wal"
)

// Defaults applied by New for zero Config fields.
const (
	DefaultLogStore           = LogStoreWAL
	DefaultMaxBatch           = 256
	DefaultMaxCommandBytes    = 8 << 20
	DefaultSnapshotThreshold  = 8192
	DefaultSnapshotInterval   = 30 * time.Second
	DefaultTrailingLogs       = 10240
	DefaultHeartbeatTimeout   = time.Second
	DefaultElectionTimeout    = time.Second
	DefaultLeaderLeaseTimeout = 500 * time.Millisecond
	DefaultCommitTimeout      = 5 * time.Millisecond
	DefaultLeaderWait         = 5 * time.Second
	DefaultInitialMmapSize    = 1 << 30
)

// Config configures a Store. NodeID and Dir are required, and either RaftAddr
// or Listener. Zero values of the other fields select the defaults above.
type Config struct {
	// NodeID identifies this node; it must be stable across restarts.
	NodeID string `json:"node_id" yaml:"node_id"`
	// Dir holds the raft log, snapshots and the state bbolt file.
	Dir string `json:"dir" yaml:"dir"`
	// RaftAddr is the listen address for raft and the store's internal RPC,
	// e.g. "127.0.0.1:7071". Optional when Listener is set.
	RaftAddr string `json:"raft_addr" yaml:"raft_addr"`
	// AdvertiseAddr is the address other nodes dial; default RaftAddr. It
	// must be routable: "0.0.0.0:7071" or ":7071" is rejected.
	AdvertiseAddr string `json:"advertise_addr" yaml:"advertise_addr"`
	// Meta is replicated per-node metadata (e.g. {"http_addr": "..."}),
	// visible to every node through Members.
	Meta map[string]string `json:"meta,omitempty" yaml:"meta"`
	// BootstrapExpect forms a new cluster once this many nodes (self
	// included) without state have found each other through Join; each
	// bootstraps the same sorted voter set. Join should list exactly the
	// bootstrap nodes. If a probed node already belongs to a cluster with
	// a leader, this node joins that cluster instead.
	BootstrapExpect int `json:"bootstrap_expect" yaml:"bootstrap_expect"`
	// Join lists raft addresses of (prospective) members; self may be
	// included. Without BootstrapExpect a node without state asks them in
	// turn, with backoff, to add it; without either it bootstraps alone.
	Join []string `json:"join,omitempty" yaml:"join"`
	// LogStore is LogStoreBolt or LogStoreWAL; default DefaultLogStore (the
	// faster one by BenchmarkLogStore; see docs/benchmarks.md).
	LogStore string `json:"log_store" yaml:"log_store"`
	// MaxBatch caps the number of commands coalesced into one raft entry.
	MaxBatch int `json:"max_batch" yaml:"max_batch"`
	// MaxCommandBytes caps the size of one command; Propose returns
	// ErrTooLarge above it.
	MaxCommandBytes int `json:"max_command_bytes" yaml:"max_command_bytes"`
	// SnapshotThreshold is the number of entries since the last snapshot
	// that triggers a new one.
	SnapshotThreshold uint64 `json:"snapshot_threshold" yaml:"snapshot_threshold"`
	// SnapshotInterval is how often raft checks SnapshotThreshold.
	SnapshotInterval time.Duration `json:"snapshot_interval" yaml:"snapshot_interval"`
	// TrailingLogs is the number of entries kept after a snapshot so slow
	// followers can catch up without a snapshot install.
	TrailingLogs uint64 `json:"trailing_logs" yaml:"trailing_logs"`
	// HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout and CommitTimeout
	// are handed to raft; zero selects defaults suited to a LAN.
	HeartbeatTimeout   time.Duration `json:"heartbeat_timeout" yaml:"heartbeat_timeout"`
	ElectionTimeout    time.Duration `json:"election_timeout" yaml:"election_timeout"`
	LeaderLeaseTimeout time.Duration `json:"leader_lease_timeout" yaml:"leader_lease_timeout"`
	CommitTimeout      time.Duration `json:"commit_timeout" yaml:"commit_timeout"`
	// LeaderWait bounds how long Propose and View wait for a leader when
	// none is known and ctx has no earlier deadline; then they return
	// ErrNoLeader.
	LeaderWait time.Duration `json:"leader_wait" yaml:"leader_wait"`
	// InitialMmapSize is the initial bbolt mmap size of the state file; a
	// large value avoids remapping, which blocks writers behind long reads.
	InitialMmapSize int `json:"initial_mmap_size" yaml:"initial_mmap_size"`
	// SyncState makes every applied batch fsync the state file. By default
	// it does not: the raft log (fsynced on every node before an entry
	// commits) is the durable record, the state file is written without
	// fsync, synced on a clean Close, and rebuilt from the latest snapshot
	// and the log when the previous run did not close cleanly (crash, kill
	// -9, power loss). That takes two fsyncs off every write's path.
	SyncState bool `json:"sync_state" yaml:"sync_state"`

	// MasterKey, when set, encrypts the store at rest: raft log entries
	// under a node-local log key wrapped by it (<Dir>/logkey) and
	// snapshots in a stream envelope under it. Every node of a cluster
	// must hold the same master key, since snapshots travel between
	// nodes as they are stored. A data directory created without a
	// master key cannot be opened with one, and the reverse (ErrLogKey).
	MasterKey seal.KeyWrapper `json:"-" yaml:"-"`

	// Listener, when set, is used instead of listening on RaftAddr.
	Listener net.Listener `json:"-" yaml:"-"`
	// Dial, when set, opens every outgoing connection (raft and RPC).
	Dial func(ctx context.Context, addr string) (net.Conn, error) `json:"-" yaml:"-"`
	// Logger receives the store's and raft's logs; default slog.Default().
	Logger *slog.Logger `json:"-" yaml:"-"`
	// Registerer, when set, receives the store's Prometheus metrics.
	Registerer prometheus.Registerer `json:"-" yaml:"-"`
	// OnLeadership, when set, is told each time this node gains (true) or
	// loses (false) raft leadership, with at = time.Now() when the store
	// observed the change. Calls come from one goroutine, in order,
	// strictly alternating true and false, starting with true; a node that
	// closes while leading gets a final false. It must return quickly
	// (leader duties wait for it) and must not wait on the store.
	//
	// at is the observation instant, not raft's: the old leader sees its
	// loss and the new one its gain each after its own delay (raft's
	// notification, scheduling), so the two instants of a handover differ
	// by up to the observation delays plus clock skew, in either order. A
	// consumer that tiles time by leadership (the meter's storage
	// integration) must accept that gap or overlap; the meter's handover
	// bound (lease timeout + skew per handover) covers it, since a deposed
	// leader notices its loss within the lease timeout.
	OnLeadership func(leader bool, at time.Time) `json:"-" yaml:"-"`
	// OnMembership, when set, is told of each membership change this node
	// made or learned of (see MembershipEvent): on the leader, a member
	// joining as non-voter, its address changing, its promotion to voter,
	// its removal; on any node, bootstrapping a cluster and learning that
	// it was removed itself. It must return quickly and must not wait on
	// the store.
	OnMembership func(MembershipEvent) `json:"-" yaml:"-"`
}

// MembershipEvent is one membership change reported to
// Config.OnMembership.
type MembershipEvent struct {
	// Kind is one of the Membership* constants.
	Kind string
	// Member is the node the change is about (this node for bootstrap
	// and removed-self).
	Member string
	// RaftAddr is the member's raft address, when known.
	RaftAddr string
	// Detail says more: the bootstrap's server count, why this node
	// counts itself removed.
	Detail string
}

// Kinds of MembershipEvent.
const (
	MembershipJoined      = "joined"       // added as non-voter
	MembershipAddrChanged = "addr_changed" // same id, new raft address
	MembershipPromoted    = "promoted"     // non-voter made voter
	MembershipRemoved     = "removed"      // removed by this leader
	MembershipBootstrap   = "bootstrap"    // this node bootstrapped the cluster
	MembershipRemovedSelf = "removed_self" // this node learned it is out
)

// withDefaults returns a copy of c with defaults filled in and validated.
// Errors name the offending field.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("store config: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(c.NodeID) == "" {
		bad("NodeID", "required")
	} else if strings.ContainsAny(c.NodeID, " \t\r\n") || len(c.NodeID) > 128 {
		bad("NodeID", "%q must be at most 128 characters without whitespace", c.NodeID)
	}
	if c.Dir == "" {
		bad("Dir", "required")
	}
	if c.RaftAddr == "" && c.Listener != nil {
		c.RaftAddr = c.Listener.Addr().String()
	}
	if c.RaftAddr == "" {
		bad("RaftAddr", "required (or set Listener)")
	} else if _, _, err := net.SplitHostPort(c.RaftAddr); err != nil {
		bad("RaftAddr", "%q is not host:port: %v", c.RaftAddr, err)
	}
	if c.AdvertiseAddr == "" {
		c.AdvertiseAddr = c.RaftAddr
	}
	if c.AdvertiseAddr != "" {
		if err := checkRoutable(c.AdvertiseAddr); err != nil {
			bad("AdvertiseAddr", "%v; set AdvertiseAddr to the host:port other nodes dial", err)
		}
	}
	for k := range c.Meta {
		if k == "" {
			bad("Meta", "empty key")
		}
	}
	if c.BootstrapExpect < 0 {
		bad("BootstrapExpect", "must not be negative, got %d", c.BootstrapExpect)
	}
	if c.BootstrapExpect > 1 && len(c.Join) == 0 {
		bad("Join", "BootstrapExpect %d needs the addresses of the other nodes in Join", c.BootstrapExpect)
	}
	for _, j := range c.Join {
		if _, _, err := net.SplitHostPort(j); err != nil {
			bad("Join", "%q is not host:port: %v", j, err)
		}
	}
	switch c.LogStore {
	case "":
		c.LogStore = DefaultLogStore
	case LogStoreBolt, LogStoreWAL:
	default:
		bad("LogStore", "%q: want %q or %q", c.LogStore, LogStoreBolt, LogStoreWAL)
	}
	defInt := func(field string, v *int, def int) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			bad(field, "must not be negative, got %d", *v)
		}
	}
	defInt("MaxBatch", &c.MaxBatch, DefaultMaxBatch)
	defInt("MaxCommandBytes", &c.MaxCommandBytes, DefaultMaxCommandBytes)
	defInt("InitialMmapSize", &c.InitialMmapSize, DefaultInitialMmapSize)
	if c.MaxBatch > 1<<16 {
		bad("MaxBatch", "must be at most 65536, got %d", c.MaxBatch)
	}
	if c.MaxCommandBytes > 256<<20 {
		bad("MaxCommandBytes", "must be at most 256 MiB, got %d", c.MaxCommandBytes)
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	defDur := func(field string, v *time.Duration, def, min time.Duration) {
		switch {
		case *v == 0:
			*v = def
		case *v < min:
			bad(field, "must be at least %v, got %v", min, *v)
		}
	}
	defDur("SnapshotInterval", &c.SnapshotInterval, DefaultSnapshotInterval, 5*time.Millisecond)
	defDur("HeartbeatTimeout", &c.HeartbeatTimeout, DefaultHeartbeatTimeout, 5*time.Millisecond)
	defDur("ElectionTimeout", &c.ElectionTimeout, max(DefaultElectionTimeout, c.HeartbeatTimeout), 5*time.Millisecond)
	defDur("LeaderLeaseTimeout", &c.LeaderLeaseTimeout, min(DefaultLeaderLeaseTimeout, max(c.HeartbeatTimeout/2, 5*time.Millisecond)), 5*time.Millisecond)
	defDur("CommitTimeout", &c.CommitTimeout, DefaultCommitTimeout, time.Millisecond)
	defDur("LeaderWait", &c.LeaderWait, DefaultLeaderWait, time.Millisecond)
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		bad("LeaderLeaseTimeout", "%v must not exceed HeartbeatTimeout %v", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		bad("ElectionTimeout", "%v must not be below HeartbeatTimeout %v", c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	return c, nil
}

// checkRoutable rejects addresses other nodes cannot dial.
func checkRoutable(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %v", addr, err)
	}
	if port == "" || port == "0" {
		return fmt.Errorf("%q has no port", addr)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("%q is the unspecified address", addr)
	}
	return nil
}
