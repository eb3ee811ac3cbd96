package meter_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/meter"
	"github.com/aerolithdb/aerolith/billing/client"
)

// TestDeadLetterReplay: a node whose clock runs 2 h ahead reports windows
// billing rejects for good ("more than 1h after the batch time"), as it
// does a tenant not assigned to the cluster. Both are dead-lettered, not
// billed, and visible (DeadLetters, Stats). Once the clock is set right,
// replaying the clock's dead letter with its window restamped bills it,
// exactly once: a second replay finds nothing, and the other dead letter
// stays. On the old code dead letters could not be replayed: the usage
// was never billed.
func TestDeadLetterReplay(t *testing.T) {
	ctx := context.Background()
	admin, tenant, snd := billingFixture(t)
	other, err := admin.CreateTenant(ctx, client.TenantRequest{Organization: "initech", Name: "initech", Tier: "starter", Email: "ap@initech.example"})
	if err != nil {
		t.Fatal(err)
	}
	var ahead atomic.Int64
	ahead.Store(int64(2 * time.Hour))
	m := newTestMeter(t, t.TempDir(), snd, func(c *meter.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	})
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Record(tenant, meter.Usage{Writes: 4}); err != nil {
		t.Fatal(err)
	}
	if err := m.Record(other.ID, meter.Usage{Writes: 9}); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := m.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	dl, err := m.DeadLetters()
	if err != nil || len(dl) != 2 {
		t.Fatalf("dead letters = %+v, %v; want 2", dl, err)
	}
	var clockSeq uint64
	for _, d := range dl {
		switch d.Tenant {
		case tenant:
			clockSeq = d.Seq
			if !strings.Contains(d.Reason, "after the batch time") {
				t.Errorf("clock dead letter reason = %q", d.Reason)
			}
		case other.ID:
			if !strings.Contains(d.Reason, "not assigned") {
				t.Errorf("unassigned tenant dead letter reason = %q", d.Reason)
			}
		}
	}
	if st, _ := m.Stats(); st.DeadLetters != 2 || st.DeadLettered != 2 {
		t.Fatalf("stats = %+v, want 2 dead letters", st)
	}
	if got := billedWrites(t, admin, tenant); got != 0 {
		t.Fatalf("billed %d writes before the replay", got)
	}
	if _, err := m.ReplayDeadLetters(ctx, meter.ReplayOptions{Seqs: []uint64{clockSeq, 999}}); !errors.Is(err, meter.ErrNoDeadLetter) {
		t.Fatalf("replay of an unknown seq = %v, want ErrNoDeadLetter", err)
	}

	ahead.Store(0) // the clock is fixed
	rep, err := m.ReplayDeadLetters(ctx, meter.ReplayOptions{Seqs: []uint64{clockSeq}, Restamp: true})
	if err != nil || len(rep) != 1 || rep[0].Seq != clockSeq || rep[0].NewSeq <= clockSeq || rep[0].End.After(time.Now()) {
		t.Fatalf("replay = %+v, %v", rep, err)
	}
	if err := m.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	if got := billedWrites(t, admin, tenant); got != 4 {
		t.Fatalf("billed %d writes after the replay, want 4", got)
	}
	// Nothing left to replay for it; the unassigned tenant's stays.
	if _, err := m.ReplayDeadLetters(ctx, meter.ReplayOptions{Seqs: []uint64{clockSeq}}); !errors.Is(err, meter.ErrNoDeadLetter) {
		t.Fatalf("second replay = %v, want ErrNoDeadLetter", err)
	}
	if dl, _ := m.DeadLetters(); len(dl) != 1 || dl[0].Tenant != other.ID {
		t.Fatalf("dead letters after the replay = %+v", dl)
	}
	if err := m.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	if got := billedWrites(t, admin, tenant); got != 4 {
		t.Fatalf("billed %d writes after another flush, want 4 (billed once)", got)
	}
}
