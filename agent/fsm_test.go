package agent

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/agent/tenancy"
)

// recordingSM answers every command with its name and counts calls.
type recordingSM struct {
	name  string
	calls int
	last  []byte
}

func (r *recordingSM) Apply(_ *bolt.Tx, _ uint64, cmd []byte) []byte {
	r.calls++
	r.last = cmd
	return []byte(r.name)
}

func TestStateMachineRoutes(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d, tn := &recordingSM{name: "docs"}, &recordingSM{name: "tenancy"}
	sm := NewStateMachine(d, tn)
	tests := []struct {
		name    string
		cmd     []byte
		want    string // result of the routed state machine; "" = error result
		wantErr string
	}{
		{"docs", []byte{1, 2, 3}, "docs", ""},
		{"tenancy", []byte{tenancy.CommandTag, 9}, "tenancy", ""},
		{"empty", nil, "", "empty command at index 7"},
		{"unknown", []byte{0x42, 1}, "", "unknown tag 0x42"},
		{"zero", []byte{0}, "", "unknown tag"},
		{"billing ledger format", []byte{2}, "", "unknown tag 0x02"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dBefore, tBefore := d.calls, tn.calls
			var out []byte
			if err := db.Update(func(tx *bolt.Tx) error { out = sm.Apply(tx, 7, tc.cmd); return nil }); err != nil {
				t.Fatal(err)
			}
			if tc.want != "" {
				if string(out) != tc.want {
					t.Fatalf("Apply(%x) = %q, want %q", tc.cmd, out, tc.want)
				}
				return
			}
			if d.calls != dBefore || tn.calls != tBefore {
				t.Fatalf("Apply(%x) reached a state machine", tc.cmd)
			}
			r, err := document.DecodeResult(out)
			if err != nil {
				t.Fatalf("DecodeResult = %v", err)
			}
			if !errors.Is(r.Error(), document.ErrInternal) || !strings.Contains(r.Err.Message, tc.wantErr) {
				t.Fatalf("Apply(%x) error = %v, want internal mentioning %q", tc.cmd, r.Err, tc.wantErr)
			}
		})
	}
	if d.calls != 1 || tn.calls != 1 {
		t.Fatalf("calls: docs %d, tenancy %d; want 1 each", d.calls, tn.calls)
	}
}

// FuzzStateMachine: whatever the bytes, the dispatcher over the real state
// machines returns a result (never nil) and does not panic.
func FuzzStateMachine(f *testing.F) {
	put, err := document.EncodeCommand(document.Command{Ops: []document.Op{{Kind: document.OpPut, Tenant: "t1", Collection: "c", ID: "a", Data: []byte(`{"x":1}`), Time: 1}}})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{nil, {0}, {1}, put, {tenancy.CommandTag}, {tenancy.CommandTag, 1, '{', '}'}, []byte("T\x01{\"op\":\"revoke_key\"}"), {0xff, 0xff}} {
		f.Add(seed)
	}
	db, err := bolt.Open(filepath.Join(f.TempDir(), "state.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	sm := NewStateMachine(document.NewStateMachine(document.Config{Limits: tenancy.Limits}), tenancy.NewStateMachine())
	var index uint64
	f.Fuzz(func(t *testing.T, cmd []byte) {
		index++
		err := db.Update(func(tx *bolt.Tx) error {
			if out := sm.Apply(tx, index, cmd); len(out) == 0 {
				t.Fatalf("Apply(%x) returned no result", cmd)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
