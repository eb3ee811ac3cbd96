package tenancy

import (
	"crypto/ed25519"
	"encoding/binary"
	"log/slog"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/billing/contract"
)

// StateMachine applies tenancy commands (those starting with CommandTag)
// inside the store's transaction. All its state lives in the transaction, so
// one value serves every caller; Apply is deterministic.
type StateMachine struct {
	log *slog.Logger

	// keyGen is the key generation of the committed state (see
	// KeyGeneration); keyGenOK is set once Load or a commit published it.
	keyGen   atomic.Uint64
	keyGenOK atomic.Bool
	// onPolicy, when set, receives each policy stored (see OnPolicy).
	onPolicy func(contract.Policy)
}

// OnPolicy sets f to be called with each policy a SetPolicy command
// stores, once its transaction committed and before the store reports the
// entry applied, and with every stored policy at Load (open, snapshot
// restore). So every node's quota enforcement follows the policies in the
// replicated state, not only those its own fetcher obtained. f runs on the
// store's apply path: it must be quick and must not call the store. Call
// it before the store starts applying.
func (sm *StateMachine) OnPolicy(f func(contract.Policy)) { sm.onPolicy = f }

// NewStateMachine returns a state machine. It does no I/O.
func NewStateMachine() *StateMachine {
	return &StateMachine{log: slog.New(slog.DiscardHandler)}
}

// SetLogger sets where storage faults are logged (default: nowhere). Call
// it before the store starts applying.
func (sm *StateMachine) SetLogger(l *slog.Logger) {
	if l != nil {
		sm.log = l.With("component", "tenancy")
	}
}

// Apply decodes and applies one command and returns the encoded Result
// (DecodeResult). It validates before it writes, so a failed command leaves
// tx untouched; it reads no clock and no randomness. index is unused.
func (sm *StateMachine) Apply(tx *bolt.Tx, index uint64, cmd []byte) []byte {
	c, err := DecodeCommand(cmd)
	if err != nil {
		return EncodeResult(Result{Err: internalf("malformed command: %v", err)})
	}
	return EncodeResult(sm.ApplyCommand(tx, c))
}

// ApplyCommand applies a decoded command (see Apply).
func (sm *StateMachine) ApplyCommand(tx *bolt.Tx, c Command) Result {
	var r Result
	var werr error
	switch c := c.(type) {
	case SetPolicy:
		r, werr = setPolicy(tx, &c)
		if f := sm.onPolicy; f != nil && werr == nil && r.Err == nil && !r.Unchanged && r.Policy != nil {
			p := *r.Policy
			tx.OnCommit(func() { f(p) })
		}
	case CreateKey:
		r, werr = createKey(tx, &c)
		sm.publishKeyGeneration(tx)
	case RevokeKey:
		r, werr = revokeKey(tx, &c)
		sm.publishKeyGeneration(tx)
	default:
		return Result{Err: invalidf("unknown tenancy command %T", c)}
	}
	if werr != nil {
		// Validation passed, so only a storage fault gets here.
		sm.log.Error("writing a validated tenancy command failed", "err", werr)
		return Result{Err: internalf("storage: %v", werr)}
	}
	return r
}

// publishKeyGeneration makes KeyGeneration report tx's key generation once
// tx has committed (a rolled-back tx publishes nothing).
func (sm *StateMachine) publishKeyGeneration(tx *bolt.Tx) {
	gen := keyGenerationOf(tx)
	tx.OnCommit(func() {
		sm.keyGen.Store(gen)
		sm.keyGenOK.Store(true)
	})
}

// Load implements store.Loader: it reads the key generation of the state
// file at open and after a snapshot restore.
func (sm *StateMachine) Load(tx *bolt.Tx) error {
	sm.keyGen.Store(keyGenerationOf(tx))
	sm.keyGenOK.Store(true)
	if sm.onPolicy == nil {
		return nil
	}
	b := subBucket(tx, bucketPolicies)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, _ []byte) error {
		_, p, ok, err := LoadPolicy(tx, string(k))
		if err != nil {
			// The policy fetcher reports it too; the others still load.
			sm.log.Error("a stored policy cannot be read", "err", err)
			return nil
		}
		if ok {
			sm.onPolicy(p)
		}
		return nil
	})
}

// KeyGeneration returns the key generation of the committed state: how
// many key commands it holds, as Authenticator compares it with what it
// cached. It lags a commit by the commit callback (microseconds); ok is
// false until Load ran.
func (sm *StateMachine) KeyGeneration() (gen uint64, ok bool) {
	if !sm.keyGenOK.Load() {
		return 0, false
	}
	return sm.keyGen.Load(), true
}

// failed wraps a validation failure as a Result.
func failed(e *Error) (Result, error) { return Result{Err: e}, nil }

func setPolicy(tx *bolt.Tx, c *SetPolicy) (Result, error) {
	if err := document.ValidateTenant(c.Tenant); err != nil {
		return failed(asInvalid(err))
	}
	if c.Policy.Tenant != c.Tenant {
		return failed(invalidf("set policy for tenant %s: the signed policy is for tenant %q", c.Tenant, clip(c.Policy.Tenant)))
	}
	if len(c.Signed.Payload) == 0 {
		return failed(invalidf("set policy for tenant %s: no signed payload", c.Tenant))
	}
	if len(c.Signed.Signature) != ed25519.SignatureSize {
		return failed(invalidf("set policy for tenant %s: signature is %d bytes, want %d", c.Tenant, len(c.Signed.Signature), ed25519.SignatureSize))
	}
	_, cur, ok, err := LoadPolicy(tx, c.Tenant)
	if err != nil {
		return failed(internalf("%v", err))
	}
	if ok && cur.Version >= c.Policy.Version {
		return Result{Policy: &cur, Unchanged: true}, nil
	}
	rec, err := encodeJSONRecord(&policyRecord{
		Payload: c.Signed.Payload, Signature: c.Signed.Signature, KeyID: c.Signed.KeyID, Policy: storePolicy(c.Policy),
	})
	if err != nil {
		return failed(invalidf("set policy for tenant %s: %v", c.Tenant, err))
	}
	pb, lb, err := policyBuckets(tx)
	if err != nil {
		return Result{}, err
	}
	if err := pb.Put([]byte(c.Tenant), rec); err != nil {
		return Result{}, err
	}
	if err := lb.Put([]byte(c.Tenant), encodeLimits(limitsOf(&c.Policy))); err != nil {
		return Result{}, err
	}
	p := c.Policy
	return Result{Policy: &p}, nil
}

func createKey(tx *bolt.Tx, c *CreateKey) (Result, error) {
	k := c.Key
	if e := validateKey(&k); e != nil {
		return failed(e)
	}
	_, exists, err := GetKey(tx, k.ID)
	if err != nil {
		return failed(internalf("%v", err))
	}
	if exists {
		return failed(errorf(CodeConflict, "api key id %s already exists", k.ID))
	}
	k.CreatedAt = k.CreatedAt.UTC()
	if err := putKey(tx, &k); err != nil {
		return Result{}, err
	}
	return Result{Key: &k}, nil
}

func revokeKey(tx *bolt.Tx, c *RevokeKey) (Result, error) {
	if !ValidID(c.ID) {
		return failed(invalidf("invalid api key id %q: want %d lowercase hex digits", clip(c.ID), IDLen))
	}
	if c.At.IsZero() {
		return failed(invalidf("revoke api key %s: missing revocation time", c.ID))
	}
	k, ok, err := GetKey(tx, c.ID)
	if err != nil {
		return failed(internalf("%v", err))
	}
	if !ok {
		return failed(notFoundf("api key %s not found", c.ID))
	}
	if k.Revoked {
		return Result{Key: &k, Unchanged: true}, nil
	}
	k.Revoked, k.RevokedAt = true, c.At.UTC()
	if err := putKey(tx, &k); err != nil {
		return Result{}, err
	}
	return Result{Key: &k}, nil
}

func rootBucket(tx *bolt.Tx) (*bolt.Bucket, error) {
	return tx.CreateBucketIfNotExists(bucketRoot)
}

func policyBuckets(tx *bolt.Tx) (policies, limits *bolt.Bucket, err error) {
	root, err := rootBucket(tx)
	if err != nil {
		return nil, nil, err
	}
	if policies, err = root.CreateBucketIfNotExists(bucketPolicies); err != nil {
		return nil, nil, err
	}
	if limits, err = root.CreateBucketIfNotExists(bucketLimits); err != nil {
		return nil, nil, err
	}
	return policies, limits, nil
}

// putKey stores k and advances the key generation, so authenticators drop
// what they cached.
func putKey(tx *bolt.Tx, k *APIKey) error {
	rec, err := encodeJSONRecord(toWireKey(k))
	if err != nil {
		return err
	}
	root, err := rootBucket(tx)
	if err != nil {
		return err
	}
	kb, err := root.CreateBucketIfNotExists(bucketKeys)
	if err != nil {
		return err
	}
	if err := kb.Put([]byte(k.ID), rec); err != nil {
		return err
	}
	return root.Put(keyGeneration, binary.BigEndian.AppendUint64(nil, keyGenerationOf(tx)+1))
}
