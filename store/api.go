package store

import (
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// StateMachine is what the store replicates. The store calls Apply for every
// committed command, in log order, on every node, inside a bbolt read-write
// transaction that it commits together with the applied index.
//
// Apply must be deterministic (no clocks, no randomness, no map iteration
// order leaking into writes) and must either apply the whole command or leave
// tx untouched: several commands share one transaction, so a command that
// fails half-way would corrupt its neighbours. Validate first, then write.
// The returned bytes are handed, unchanged, to the caller of Propose (possibly
// on another node); application-level failures are encoded in them.
//
// index is the raft index of the entry carrying cmd; commands coalesced into
// one entry share it. cmd aliases the log entry: copy what you keep. Bucket
// names beginning with "_store" (ReservedBucketPrefix) are reserved for the
// store, which keeps its applied index and member records there; Apply must
// not create, change or delete them.
type StateMachine interface {
	Apply(tx *bolt.Tx, index uint64, cmd []byte) []byte
}

// Consistency selects how fresh a read must be.
type Consistency int

const (
	// Linearizable reads observe every write acknowledged before the read
	// started. Read-index style: the leader confirms its leadership with a
	// quorum (one round shared by concurrent readers), then the reading node
	// waits until it has applied up to the leader's commit index.
	Linearizable Consistency = iota
	// Leader reads are served once the reading node has applied everything the
	// leader had applied when asked, without a quorum round. Stale by at most
	// the time a deposed leader takes to notice.
	Leader
	// Stale reads are served from the local state as it is.
	Stale
)

// ParseConsistency parses "linearizable", "leader" or "stale" ("" means
// linearizable).
func ParseConsistency(s string) (Consistency, error) {
	switch strings.ToLower(s) {
	case "", "linearizable", "strong":
		return Linearizable, nil
	case "leader", "weak":
		return Leader, nil
	case "stale", "none":
		return Stale, nil
	}
	return 0, fmt.Errorf("unknown consistency %q: want linearizable, leader or stale", s)
}

func (c Consistency) String() string {
	switch c {
	case Linearizable:
		return "linearizable"
	case Leader:
		return "leader"
	case Stale:
		return "stale"
	}
	return fmt.Sprintf("consistency(%d)", int(c))
}

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrNotLeader is returned by operations that need the leader when this
	// node is not it and forwarding was not possible.
	ErrNotLeader = errors.New("not the leader")
	// ErrNoLeader means the cluster has no leader right now (election in
	// progress or quorum lost). Retry later; HTTP maps it to 503.
	ErrNoLeader = errors.New("no leader")
	// ErrNotReady means a new leader has not yet applied its first barrier,
	// so linearizable reads are refused for now.
	ErrNotReady = errors.New("store not ready")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("store closed")
	// ErrTooLarge is returned by Propose for a command above MaxCommandBytes.
	ErrTooLarge = errors.New("command too large")
	// ErrLeadershipLost means the leader lost its leadership while a command
	// was being committed: the command may or may not have been applied.
	// Retrying a non-idempotent command may apply it twice.
	ErrLeadershipLost = errors.New("leadership lost while committing; outcome unknown")
	// ErrRemoved means this node was removed from the cluster: it serves
	// no reads or writes any more. To make it a member again, wipe its
	// data directory (or give it a fresh one) and join it.
	ErrRemoved = errors.New("this node was removed from the cluster")
	// ErrNodeHasState is returned by Join for a node that is not a member
	// but already has raft state of its own (it formed or joined another
	// cluster, or was removed from this one): raft cannot merge histories.
	// Wipe its data directory (or give it a fresh one), then join it.
	ErrNodeHasState = errors.New("node has raft state of its own")
)
