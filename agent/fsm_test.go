package agent

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/docs"
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
			r, err := docs.DecodeResult(out)
			if err != nil {
				t.Fatalf("DecodeResult = %v", err)
			}
			if !errors.Is(r.Error(), docs.ErrInternal) || !strings.Contains(r.Err.Message, tc.wantErr) {
				t.Fatalf("Apply(%x) error = %v, want internal mentioning %q", tc.cmd, r.Err, tc.wantErr)
			}
		})
	}
	if d.calls != 1 || tn.calls != 1 {
		t.Fatalf("calls: docs %d, tenancy %d; want 1 each", d.calls, tn.calls)
	}
}
