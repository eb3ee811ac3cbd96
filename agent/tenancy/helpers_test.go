package tenancy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/store"
)

// openDB opens a bbolt file in t.TempDir, closed at the end of the test.
func openDB(t testing.TB) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("open bolt: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// fakeStore is a one-node store: Propose applies through a real
// StateMachine on a real bolt DB, View reads it. It implements Proposer and
// Viewer.
type fakeStore struct {
	db *bolt.DB
	sm *StateMachine

	mu        sync.Mutex
	index     uint64
	proposals int
	viewErr   error // returned by View when set
	views     []store.Consistency
}

func newFakeStore(t testing.TB) *fakeStore {
	t.Helper()
	return &fakeStore{db: openDB(t), sm: NewStateMachine()}
}

func (f *fakeStore) Propose(ctx context.Context, cmd []byte) ([]byte, uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	f.proposals++
	var res []byte
	err := f.db.Update(func(tx *bolt.Tx) error {
		res = f.sm.Apply(tx, f.index, bytes.Clone(cmd))
		return nil
	})
	return res, f.index, err
}

func (f *fakeStore) View(ctx context.Context, c store.Consistency, fn func(*bolt.Tx) error) error {
	f.mu.Lock()
	err := f.viewErr
	f.views = append(f.views, c)
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.db.View(fn)
}

func (f *fakeStore) proposalCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.proposals
}

// apply proposes c and returns its decoded result.
func (f *fakeStore) apply(t testing.TB, c Command) Result {
	t.Helper()
	cmd, err := EncodeCommand(c)
	if err != nil {
		t.Fatalf("EncodeCommand(%T) = %v", c, err)
	}
	res, _, err := f.Propose(context.Background(), cmd)
	if err != nil {
		t.Fatalf("Propose: %v", err)
	}
	r, err := DecodeResult(res)
	if err != nil {
		t.Fatalf("DecodeResult: %v", err)
	}
	return r
}

// mustApply is apply that fails the test on a command error.
func (f *fakeStore) mustApply(t testing.TB, c Command) Result {
	t.Helper()
	r := f.apply(t, c)
	if r.Err != nil {
		t.Fatalf("apply %T: %v", c, r.Err)
	}
	return r
}

// dump returns every key and value under _tenancy, for comparing states.
func dump(t testing.TB, db *bolt.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := db.View(func(tx *bolt.Tx) error {
		var walk func(prefix string, b *bolt.Bucket) error
		walk = func(prefix string, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if v == nil {
					return walk(prefix+string(k)+"/", b.Bucket(k))
				}
				out[prefix+string(k)] = string(v)
				return nil
			})
		}
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(string(name)+"/", b) })
	})
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	return out
}

var testSigner = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

var baseTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testPolicy returns a policy of tenant at version, issued version seconds
// after baseTime.
func testPolicy(tenant string, version uint64, action contract.QuotaAction) contract.Policy {
	return contract.Policy{
		Tenant: tenant, Tier: "starter", Status: contract.StatusActive,
		Limits: contract.Limits{
			StorageBytes: 1 << 20, APICallsPerDay: 10000, APICallsPerHour: 1000, RequestsPerSecond: 10,
			ConcurrentConnections: 5, MaxQueryDuration: 10 * time.Second, MaxCollections: 25,
			MaxDocumentsPerCollection: 1000, RetentionDays: 30,
		},
		QuotaAction:      action,
		RevokedAgentKeys: []string{},
		Version:          version,
		IssuedAt:         baseTime.Add(time.Duration(version) * time.Second),
	}
}

// sign signs p with testSigner.
func sign(t testing.TB, p contract.Policy) contract.SignedPolicy {
	t.Helper()
	sp, err := contract.SignPolicy(p, testSigner)
	if err != nil {
		t.Fatalf("SignPolicy: %v", err)
	}
	return sp
}

// setPolicyCmd is the SetPolicy command of p, signed.
func setPolicyCmd(t testing.TB, p contract.Policy) SetPolicy {
	t.Helper()
	return SetPolicy{Tenant: p.Tenant, Signed: sign(t, p), Policy: p}
}

// newTestKey makes a key with NewKey and fails the test on error.
func newTestKey(t testing.TB, tenant, role string) (APIKey, string) {
	t.Helper()
	k, s, err := NewKey(tenant, role, "test key", baseTime)
	if err != nil {
		t.Fatalf("NewKey(%q, %q) = %v", tenant, role, err)
	}
	return k, s
}

// wantCode fails t unless err is an *Error with code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
}
