package keyring

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/internal/seal"
	"github.com/aerolithdb/aerolith/store"
)

func masterKey(t testing.TB, b byte) *seal.LocalMasterKey {
	t.Helper()
	mk, err := seal.NewLocalMasterKey(bytes.Repeat([]byte{b}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

// replica is one node's state: a bbolt file, its keyring and the two
// state machines, routed by first byte like the agent's dispatcher.
type replica struct {
	db   *bolt.DB
	kr   *seal.Keyring
	ksm  *StateMachine
	dsm  *document.StateMachine
	lead bool
}

func (r *replica) apply(tx *bolt.Tx, cmd []byte) []byte {
	if cmd[0] == CommandTag {
		return r.ksm.Apply(tx, 1, cmd)
	}
	return r.dsm.Apply(tx, 1, cmd)
}

// cluster applies every proposal on every replica in one order, like raft.
type cluster struct {
	mu       sync.Mutex
	replicas []*replica
}

func newCluster(t testing.TB, n int) *cluster {
	t.Helper()
	c := &cluster{}
	for i := range n {
		db, err := bolt.Open(filepath.Join(t.TempDir(), fmt.Sprintf("r%d.db", i)), 0o600, &bolt.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		kr, err := seal.New(seal.Config{Wrapper: masterKey(t, 1)})
		if err != nil {
			t.Fatal(err)
		}
		c.replicas = append(c.replicas, &replica{db: db, kr: kr, ksm: NewStateMachine(kr, nil), dsm: document.NewStateMachine(document.Config{Sealer: kr}), lead: i == 0})
	}
	return c
}

// node is the Store a Manager on replica i sees.
type node struct {
	c *cluster
	i int
}

func (n node) Propose(_ context.Context, cmd []byte) ([]byte, uint64, error) {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	var first []byte
	for i, r := range n.c.replicas {
		var out []byte
		if err := r.db.Update(func(tx *bolt.Tx) error { out = r.apply(tx, cmd); return nil }); err != nil {
			return nil, 0, err
		}
		if i == 0 {
			first = out
		}
	}
	return first, 1, nil
}

func (n node) View(_ context.Context, _ store.Consistency, fn func(*bolt.Tx) error) error {
	return n.c.replicas[n.i].db.View(fn)
}

func (n node) IsLeader() bool { return n.c.replicas[n.i].lead }

func newManager(t testing.TB, c *cluster, i int) *Manager {
	t.Helper()
	m, err := NewManager(ManagerConfig{Keyring: c.replicas[i].kr, Store: node{c, i}, Interval: time.Millisecond, Poll: time.Hour, BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestInstallCommandRoundTrip(t *testing.T) {
	kr, _ := seal.New(seal.Config{Wrapper: masterKey(t, 1)})
	w, err := kr.NewVersion(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := EncodeInstall(w)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeInstall(cmd)
	if err != nil || len(got) != 1 || got[0].Scope != "acme" || !bytes.Equal(got[0].Wrapped, w.Wrapped) {
		t.Fatalf("DecodeInstall = %v, %v", got, err)
	}
	for name, bad := range map[string][]byte{
		"empty":    nil,
		"tag":      append([]byte{'X'}, cmd[1:]...),
		"no keys":  append([]byte{CommandTag}, `{"format":1,"keys":[]}`...),
		"unknown":  append([]byte{CommandTag}, `{"format":1,"keys":[],"x":1}`...),
		"trailing": append(append([]byte(nil), cmd...), " {}"...),
	} {
		if _, err := DecodeInstall(bad); err == nil {
			t.Errorf("%s: DecodeInstall accepted %q", name, bad)
		}
	}
	if _, err := EncodeInstall(); err == nil {
		t.Fatal("EncodeInstall of no keys succeeded")
	}
}

func FuzzDecodeInstall(f *testing.F) {
	kr, _ := seal.New(seal.Config{Wrapper: masterKey(f, 1)})
	w, _ := kr.NewVersion(context.Background(), "acme")
	cmd, _ := EncodeInstall(w)
	f.Add(cmd)
	f.Add([]byte{CommandTag})
	f.Add(append([]byte{CommandTag}, `{"format":1,"keys":[{"scope":"a","version":1}]}`...))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := DecodeInstall(b)
		if err != nil {
			return
		}
		again, err := EncodeInstall(keys...)
		if err != nil {
			t.Fatalf("re-encode of decoded keys: %v", err)
		}
		if _, err := DecodeInstall(again); err != nil {
			t.Fatalf("decode of re-encoded keys: %v", err)
		}
	})
}

// TestEnsureRaceAndLoad: two nodes create a tenant's first key at once;
// exactly one version 1 exists on every replica, both nodes end up using
// it, and a keyring reloaded from the bucket equals the live one.
func TestEnsureRaceAndLoad(t *testing.T) {
	c := newCluster(t, 3)
	m0, m1 := newManager(t, c, 0), newManager(t, c, 1)
	// Node 1 made its key from a stale view: node 0's lands first.
	stale, err := c.replicas[1].kr.NewVersion(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if err := m0.Ensure(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	if err := m1.propose(context.Background(), stale); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale first key = %v, want ErrConflict", err)
	}
	var wg sync.WaitGroup
	for _, m := range []*Manager{m0, m1, newManager(t, c, 2)} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, tn := range []string{"acme", "beta"} {
				if err := m.Ensure(context.Background(), tn); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	want, _ := c.replicas[0].kr.Export()
	for i, r := range c.replicas {
		got, _ := r.kr.Export()
		if !bytes.Equal(got, want) {
			t.Fatalf("replica %d keyring differs:\n%s\n%s", i, got, want)
		}
		if v, _ := r.kr.Current("beta"); v != 1 {
			t.Fatalf("replica %d: beta at version %d, want exactly one version 1", i, v)
		}
		fresh, _ := seal.New(seal.Config{Wrapper: masterKey(t, 1)})
		if err := r.db.View(NewStateMachine(fresh, nil).Load); err != nil {
			t.Fatal(err)
		}
		if got, _ := fresh.Export(); !bytes.Equal(got, want) {
			t.Fatalf("replica %d: keyring loaded from the bucket differs", i)
		}
	}
	// Another master key cannot load the cluster's keys: a clear error.
	other, _ := seal.New(seal.Config{Wrapper: masterKey(t, 2)})
	if err := c.replicas[0].db.View(NewStateMachine(other, nil).Load); !errors.Is(err, seal.ErrKeyUnavailable) {
		t.Fatalf("Load under another master key = %v, want ErrKeyUnavailable", err)
	}
}

// TestRotateAndReseal rotates a tenant's key with documents under it; the
// background pass moves every document to the new version, on every
// replica, and Status reports nothing pending.
func TestRotateAndReseal(t *testing.T) {
	c := newCluster(t, 2)
	m := newManager(t, c, 0)
	ctx := context.Background()
	if err := m.Ensure(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		cmd, _ := document.EncodeCommand(document.Command{Ops: []document.Op{{Kind: document.OpPut, Tenant: "acme", Collection: fmt.Sprintf("c%d", i%3), ID: fmt.Sprintf("d%d", i), Data: json.RawMessage(`{"v":1}`), Time: 1}}})
		res, _, _ := node{c, 0}.Propose(ctx, cmd)
		if r, _ := document.DecodeResult(res); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	v, err := m.Rotate(ctx, "acme")
	if err != nil || v != 2 {
		t.Fatalf("Rotate = %d, %v", v, err)
	}
	st, err := m.Status(ctx)
	if err != nil || len(st) != 1 || st[0].Pending != 10 || st[0].CurrentVersion != 2 {
		t.Fatalf("Status before = %+v, %v", st, err)
	}
	if err := m.resealTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	st, _ = m.Status(ctx)
	if st[0].Pending != 0 || st[0].Documents[2] != 10 || m.Resealed() != 10 || !st[0].Reencryption.Done {
		t.Fatalf("Status after = %+v, resealed %d", st[0], m.Resealed())
	}
	for i, r := range c.replicas {
		var counts map[uint32]int
		r.db.View(func(tx *bolt.Tx) (err error) { counts, err = document.KeyVersionCounts(tx, "acme"); return })
		if counts[2] != 10 || len(counts) != 1 {
			t.Fatalf("replica %d key versions %v", i, counts)
		}
	}
}
