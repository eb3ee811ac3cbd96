package ledger

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultUsageBucket is the default width of the usage aggregation buckets.
const DefaultUsageBucket = time.Hour

// Config configures the state machine. Every replica must use the same
// values.
type Config struct {
	// UsageBucket is the width of the per-tenant usage aggregates (default
	// one hour). Usage is attributed to the bucket holding its window start
	// and a bucket belongs wholly to the billing period containing its
	// start, so the width must divide the billing period: one hour suits
	// monthly and hourly periods; use one minute (say) for demo periods of a
	// few minutes. It must be whole seconds between 1s and 1h dividing one
	// hour. The width is recorded in the state by the first command applied;
	// a state machine configured differently then fails every command with
	// ErrState instead of mis-billing.
	UsageBucket time.Duration
}

// StateMachine is the billing ledger's replicated state machine; it
// implements the store's StateMachine interface. It holds no state of its
// own (everything lives in the transaction), so one value serves
// concurrent callers.
type StateMachine struct {
	bucketSec int64
}

// New returns a state machine. It does no I/O; the error names a bad
// Config field.
func New(cfg Config) (*StateMachine, error) {
	w := cfg.UsageBucket
	if w == 0 {
		w = DefaultUsageBucket
	}
	if w < time.Second || w > time.Hour || w%time.Second != 0 || time.Hour%w != 0 {
		return nil, fmt.Errorf("usage bucket: %s must be whole seconds dividing one hour (1s to 1h)", w)
	}
	return &StateMachine{bucketSec: int64(w / time.Second)}, nil
}

// UsageBucket returns the configured bucket width.
func (m *StateMachine) UsageBucket() time.Duration { return time.Duration(m.bucketSec) * time.Second }

// Apply applies one encoded command (see Encode) and returns the encoded
// Result (see DecodeResult). It validates everything before writing, so a
// failing command leaves tx untouched, and it is deterministic: the only
// clock is the command's Time. It never returns nil.
func (m *StateMachine) Apply(tx *bolt.Tx, index uint64, cmd []byte) []byte {
	c, err := Decode(cmd)
	if err != nil {
		k := Kind(0)
		if len(cmd) > 1 {
			k = Kind(cmd[1])
		}
		return encodeError(k, internalf("undecodable command at index %d: %v", index, err))
	}
	return encodeResult(m.apply(tx, c))
}

// apply runs a decoded command.
func (m *StateMachine) apply(tx *bolt.Tx, c Command) Result {
	k := c.Kind()
	h := c.head()
	if e := validateHeader(h); e != nil {
		return Result{Kind: k, Err: e}
	}
	stored, e := m.storedBucket(tx)
	if e != nil {
		return Result{Kind: k, Err: e}
	}
	a := &applier{tx: tx, h: h, bucketSec: m.bucketSec}
	var r Result
	switch c := c.(type) {
	case SetClusterCA:
		r = a.setClusterCA(c)
	case RegisterOwnedCluster:
		r = a.registerOwnedCluster(c)
	case IssueEnrollmentToken:
		r = a.issueEnrollmentToken(c)
	case CreateTenant:
		r = a.createTenant(c)
	case UpdateTenant:
		r = a.updateTenant(c)
	case ChangeTier:
		r = a.changeTier(c)
	case SuspendTenant:
		r = a.suspendTenant(c)
	case ResumeTenant:
		r = a.resumeTenant(c)
	case DeleteTenant:
		r = a.deleteTenant(c)
	case RevokeAgentKey:
		r = a.revokeAgentKey(c)
	case RegisterCluster:
		r = a.registerCluster(c)
	case IngestUsage:
		r = a.ingest(c)
	case CloseDraft:
		r = a.closeDraft(c)
	case FinalizeInvoice:
		r = a.finalize(c)
	case VoidInvoice:
		r = a.void(c)
	case MarkUncollectible:
		r = a.markUncollectible(c)
	case RecordPayment:
		r = a.recordPayment(c)
	case SetCatalog:
		r = a.setCatalog(c)
	case SetSigningKey:
		r = a.setSigningKey(c)
	case CreateAPIKey:
		r = a.createAPIKey(c)
	case RevokeAPIKey:
		r = a.revokeAPIKey(c)
	case RegisterNode:
		r = a.registerNode(c)
	case AddClusterTenant:
		r = a.addClusterTenant(c)
	case RemoveClusterTenant:
		r = a.removeClusterTenant(c)
	case DeregisterCluster:
		r = a.deregisterCluster(c)
	case CreatePaymentIntent:
		r = a.createPaymentIntent(c)
	case RecordChainPayment:
		r = a.recordChainPayment(c)
	case ExpirePaymentIntent:
		r = a.expirePaymentIntent(c)
	case IssueWalletChallenge:
		r = a.issueWalletChallenge(c)
	case ConnectWallet:
		r = a.connectWallet(c)
	case DisconnectWallet:
		r = a.disconnectWallet(c)
	default:
		r = Result{Err: internalf("unhandled command kind %s", k)}
	}
	r.Kind = k
	if r.Err == nil && !stored && !r.Unchanged {
		put(tx, bMeta, keyBucketSeconds, binary.AppendUvarint(nil, uint64(m.bucketSec)))
	}
	return r
}

// storedBucket checks the configured bucket width against the state's;
// stored reports whether the state records one yet.
func (m *StateMachine) storedBucket(tx *bolt.Tx) (stored bool, err *Error) {
	raw := get(tx, bMeta, keyBucketSeconds)
	if raw == nil {
		return false, nil
	}
	v, n := binary.Uvarint(raw)
	if n <= 0 {
		return false, internalf("corrupt usage bucket width in state")
	}
	if int64(v) != m.bucketSec {
		return true, statef("usage bucket: configured %s but the state was built with %s; configure %s",
			time.Duration(m.bucketSec)*time.Second, time.Duration(v)*time.Second, time.Duration(v)*time.Second)
	}
	return true, nil
}

// applier carries one command's context.
type applier struct {
	tx        *bolt.Tx
	h         Header
	bucketSec int64
}

// now is the command's time.
func (a *applier) now() time.Time { return unixTime(a.h.Time) }

func validateHeader(h Header) *Error {
	if h.Time <= 0 {
		return invalidf("time: required (Unix nanoseconds of the proposer's clock)")
	}
	if e := checkText("actor", h.Actor, maxTextLen, true); e != nil {
		return e
	}
	return nil
}
