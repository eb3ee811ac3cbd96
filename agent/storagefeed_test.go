package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/agent/tenancy"
	"github.com/aerolithdb/aerolith/store"
)

// observation is one ObserveStorage call.
type observation struct {
	tenant string
	bytes  uint64
}

type recordingObserver struct{ calls []observation }

func (r *recordingObserver) ObserveStorage(tenant string, bytes uint64, _ time.Time) {
	r.calls = append(r.calls, observation{tenant, bytes})
}

// last returns the last value observed for tenant, -1 when none.
func (r *recordingObserver) last(tenant string) int64 {
	v := int64(-1)
	for _, c := range r.calls {
		if c.tenant == tenant {
			v = int64(c.bytes)
		}
	}
	return v
}

// feedState is a bbolt state applied through the dispatcher, readable like
// the store; beforeView runs between AppliedIndex and the read (a command
// applied concurrently with a seed).
type feedState struct {
	t          *testing.T
	db         *bolt.DB
	sm         *StateMachine
	index      uint64
	applied    uint64
	beforeView func()
}

func (s *feedState) put(tenant, id, data string) {
	s.t.Helper()
	cmd, err := document.EncodeCommand(document.Command{Ops: []document.Op{{Kind: document.OpPut, Tenant: tenant, Collection: "c", ID: id, Data: []byte(data), Time: 1}}})
	if err != nil {
		s.t.Fatal(err)
	}
	s.index++
	var out []byte
	if err := s.db.Update(func(tx *bolt.Tx) error { out = s.sm.Apply(tx, s.index, cmd); return nil }); err != nil {
		s.t.Fatal(err)
	}
	if r, err := document.DecodeResult(out); err != nil || r.Err != nil {
		s.t.Fatalf("put: %v %v", err, r.Err)
	}
	s.applied = s.index
}

func (s *feedState) AppliedIndex() uint64 { return s.applied }

func (s *feedState) View(_ context.Context, _ store.Consistency, fn func(*bolt.Tx) error) error {
	if s.beforeView != nil {
		s.beforeView()
		s.beforeView = nil
	}
	return s.db.View(fn)
}

func (s *feedState) stored(tenant string) int64 {
	var st document.Stats
	if err := s.db.View(func(tx *bolt.Tx) (err error) { st, err = document.TenantStats(tx, tenant); return }); err != nil {
		s.t.Fatal(err)
	}
	return st.Bytes + st.IndexBytes
}

func TestStorageFeed(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	obs := &recordingObserver{}
	sm := NewStateMachine(nil, tenancy.NewStateMachine())
	feed := newStorageFeed(obs, sm.applyingIndex)
	sm.docs = document.NewStateMachine(document.Config{OnStorage: feed.onStorage})
	s := &feedState{t: t, db: db, sm: sm}
	ctx := context.Background()

	// Before the tenants are known nothing is fed.
	s.put("t1", "a", `{"x":1}`)
	if len(obs.calls) != 0 {
		t.Fatalf("fed before enrollment: %v", obs.calls)
	}
	feed.setTenants([]string{"t1", "t2"})
	if err := feed.seed(ctx, s); err != nil {
		t.Fatal(err)
	}
	if obs.last("t1") != s.stored("t1") || obs.last("t2") != 0 {
		t.Fatalf("seed observed %v, want t1=%d t2=0", obs.calls, s.stored("t1"))
	}

	// Changes of the cluster's tenants are fed from Apply; others are not.
	s.put("t2", "b", `{"y":"two"}`)
	s.put(auth.DefaultTenant, "z", `{}`)
	if obs.last("t2") != s.stored("t2") || obs.last(auth.DefaultTenant) != -1 {
		t.Fatalf("Apply fed %v", obs.calls)
	}

	// A seed whose read started before a concurrent change must not
	// overwrite what Apply reported: the read here sees the new state,
	// but from = the index before the change, so t1 is skipped; t2 is
	// seeded.
	before := len(obs.calls)
	s.beforeView = func() { s.put("t1", "c", `{"big":"`+fmt.Sprint(make([]byte, 100))+`"}`) }
	if err := feed.seed(ctx, s); err != nil {
		t.Fatal(err)
	}
	seeded := obs.calls[before:]
	// calls: Apply's t1, then the seed's t2 only.
	if len(seeded) != 2 || seeded[0].tenant != "t1" || seeded[1].tenant != "t2" {
		t.Fatalf("calls after a concurrent change = %v, want Apply's t1 then seeded t2", seeded)
	}
	if obs.last("t1") != s.stored("t1") {
		t.Fatalf("t1 = %d, want %d", obs.last("t1"), s.stored("t1"))
	}
	// The next seed, after the change, reads t1 again.
	before = len(obs.calls)
	if err := feed.seed(ctx, s); err != nil {
		t.Fatal(err)
	}
	if len(obs.calls)-before != 2 {
		t.Fatalf("seed after the change observed %v", obs.calls[before:])
	}
}
