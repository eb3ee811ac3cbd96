package audit_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/internal/audit/audittest"
)

func TestCoalescer(t *testing.T) {
	ctx := context.Background()
	rec := &audittest.Recorder{}
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	c := audit.NewCoalescer(rec, time.Minute, 2)
	c.Now = func() time.Time { return now }
	ev := func(addr string) audit.Event {
		return audit.Event{Action: "auth.failed", Actor: audit.Actor{Kind: "anonymous", Addr: addr}, Outcome: audit.OutcomeDenied, Detail: map[string]string{"reason": "invalid key"}}
	}
	for range 100 {
		if err := c.Append(ctx, "a", ev("a")); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(rec.Events()); got != 1 {
		t.Fatalf("after 100 failures of one key in a window: %d records, want 1", got)
	}
	// Two more keys: the third goes to the overflow key.
	_ = c.Append(ctx, "b", ev("b"))
	_ = c.Append(ctx, "c", ev("c"))
	_ = c.Append(ctx, "d", ev("d"))
	if got := len(rec.Events()); got != 3 {
		t.Fatalf("records = %d, want 3 (a, b, overflow c; d counted)", got)
	}
	// The window passes: the next event writes the summaries.
	now = now.Add(time.Minute)
	_ = c.Append(ctx, "a", ev("a"))
	var sums []audit.Event
	for _, e := range rec.Events() {
		if e.Detail["repeats"] != "" {
			sums = append(sums, e)
		}
	}
	if len(sums) != 2 {
		t.Fatalf("summaries = %+v, want 2 (a: 99, overflow: 1)", sums)
	}
	got := map[string]string{}
	for _, e := range sums {
		got[e.Actor.Addr] = e.Detail["repeats"]
		if e.Detail["since"] != "2026-11-27T03:00:00Z" || e.Detail["reason"] != "invalid key" {
			t.Errorf("summary detail = %v", e.Detail)
		}
	}
	if got["a"] != "99" || got["d"] != "1" {
		t.Errorf("repeats = %v, want a:99 d:1", got)
	}
	_ = c.Append(ctx, "a", ev("a"))
	n := len(rec.Events())
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	evs := rec.Events()
	if len(evs) != n+1 || evs[n].Detail["repeats"] != "1" {
		t.Errorf("Flush wrote %v, want one summary with repeats 1", evs[n:])
	}
}

func TestReadKeyFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, wantErr string
	}{
		{"ok with newline", "0123456789abcdef0123\n", ""},
		{"too short", "k3y\n", "want at least 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			k, err := audit.ReadKeyFile(p)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), strings.TrimSpace(tt.content)) {
					t.Fatalf("ReadKeyFile = %v, want error %q not holding the key", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(k) != strings.TrimSpace(tt.content) {
				t.Fatalf("ReadKeyFile = %q, %v", k, err)
			}
		})
	}
	if _, err := audit.ReadKeyFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadKeyFile(missing) = nil error")
	}
}
