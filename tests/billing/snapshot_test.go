package billing

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	raftwal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/internal/testwait"
)

// Snapshot tuning of TestRestartFromSnapshot: a snapshot every few dozen
// raft entries, keeping only a handful behind it, so that the log the
// replica restarts with no longer holds the tenants nor the first half of
// the usage batches.
const (
	snapThreshold = 32
	snapTrailing  = 8
)

// TestRestartFromSnapshot runs one billing replica with a low
// --snapshot-threshold and --trailing-logs, ingests usage batches, waits
// until a snapshot covers the first half of them and the raft log was
// compacted past it, SIGKILLs the replica (its state file is then
// discarded and rebuilt: from the snapshot, since the log no longer holds
// those entries) and restarts it. The usage figures and the invoice drafts
// must be exactly the ones before the kill, and every batch sent before,
// resent, must be answered duplicate (the de-duplication table came back
// from the snapshot) and change nothing.
func TestRestartFromSnapshot(t *testing.T) {
	rs := startReplicas(t, 1, "--period", "2s", "--usage-bucket", "1s", "--grace", "1h",
		"--payment-terms", "1h", "--dunning-grace", "1h", "--schedule-interval", "100ms", "--tiers", writeTiers(t),
		"--snapshot-threshold", fmt.Sprint(snapThreshold), "--snapshot-interval", "50ms", "--trailing-logs", fmt.Sprint(snapTrailing))
	admin := rs.admin()
	tenants, token := createTenants(t, admin, 4, "metered")
	agent := rs.client(token)
	l := newLoad(t, agent, tenants, 10)

	// Usage: batches of ten records from two nodes, each sent until
	// acknowledged; half of them before midIndex is read.
	const batches = 120
	var sent [][]billingclient.UsageRecord
	seq := map[string]uint64{}
	var midIndex uint64
	for b := range batches {
		node := fmt.Sprintf("node-%d", b%2)
		recs := make([]billingclient.UsageRecord, l.batch)
		now := time.Now().UTC()
		for i := range recs {
			seq[node]++
			recs[i] = billingclient.UsageRecord{NodeID: node, Seq: seq[node], TenantID: tenants[(b+i)%len(tenants)],
				Start: now, End: now.Add(time.Millisecond), Reads: uint64(1 + (b*7+i*13)%50)}
		}
		if !l.send(recs) {
			t.FailNow()
		}
		sent = append(sent, recs)
		if b == batches/2-1 {
			midIndex = appliedIndex(t, admin)
		}
	}
	// A send that timed out is resent, and its records may then come back
	// duplicate; none may be accepted twice.
	if a := l.accepted.Load(); a > int64(batches*l.batch) {
		t.Fatalf("%d records accepted, more than the %d sent", a, batches*l.batch)
	}

	// The drafts of every period holding usage: cut is after the last
	// record, so once a draft ends after cut for every tenant, every
	// period with usage has its draft.
	cut := time.Now().UTC()
	testwait.For(t, waitLimit, "drafts of every period up to the last usage", func() error {
		for _, ten := range tenants {
			invs, err := admin.ListInvoices(context.Background(), billingclient.InvoiceQuery{TenantID: ten})
			if err != nil {
				return err
			}
			covered := false
			for _, inv := range invs {
				covered = covered || inv.PeriodEnd.After(cut)
			}
			if !covered {
				return fmt.Errorf("tenant %s: no draft ends after %s yet", ten, cut.Format(time.RFC3339Nano))
			}
		}
		return nil
	})

	// A snapshot at least snapTrailing entries past midIndex: the log is
	// then compacted past the first half of the batches.
	snapDir := filepath.Join(rs.nodes[0].dataDir, "store", "snapshots", "snapshots") // raft's file snapshot store nests its own directory
	var snapIndex uint64
	testwait.For(t, waitLimit, fmt.Sprintf("a snapshot past raft index %d", midIndex+snapTrailing), func() error {
		snapIndex = latestSnapshot(t, snapDir)
		if snapIndex < midIndex+snapTrailing {
			return fmt.Errorf("latest snapshot at index %d", snapIndex)
		}
		return nil
	})

	usage := usageOf(t, admin, l)
	drafts := draftsBefore(t, admin, tenants, cut)
	want, _, _, _ := l.expected()
	for _, ten := range tenants {
		if usage[ten].Reads != want[ten] {
			t.Fatalf("tenant %s: %d reads metered before the restart, %d sent", ten, usage[ten].Reads, want[ten])
		}
		var cents int64
		for _, inv := range drafts[ten] {
			cents += inv.TotalCents
		}
		if cents != int64(want[ten]) {
			t.Fatalf("tenant %s: drafts total %d cents, want %d (one per read sent)", ten, cents, want[ten])
		}
	}

	rs.kill(0)
	// The log the replica restarts from no longer holds the first half of
	// the batches (nor the tenants): only the snapshot does.
	first := walFirstIndex(t, filepath.Join(rs.nodes[0].dataDir, "store", "raft", "wal"))
	if first <= midIndex {
		t.Fatalf("raft log starts at index %d, want past %d (the first half of the batches; latest snapshot %d): not compacted", first, midIndex, snapIndex)
	}
	// The killed run left its dirty marker: the restart discards the
	// state file and rebuilds it from the snapshot and the log (store).
	if _, err := os.Stat(filepath.Join(rs.nodes[0].dataDir, "store", "state.db.dirty")); err != nil {
		t.Fatalf("no dirty marker after SIGKILL, so the restart would not rebuild the state from the snapshot: %v", err)
	}
	t.Logf("ingested %d batches (%d records); first half up to raft index %d; snapshot at %d; log starts at %d after the kill",
		batches, batches*l.batch, midIndex, snapIndex, first)

	rs.start(0)
	rs.waitReady(0)
	same := func(when string) {
		t.Helper()
		if got := usageOf(t, admin, l); !reflect.DeepEqual(got, usage) {
			t.Errorf("usage %s:\n%+v\nwant (before the restart)\n%+v", when, got, usage)
		}
		if got := draftsBefore(t, admin, tenants, cut); !reflect.DeepEqual(got, drafts) {
			t.Errorf("drafts %s:\n%s\nwant (before the restart)\n%s", when, jsonOf(got), jsonOf(drafts))
		}
	}
	same("after restarting from the snapshot")

	dups, fresh := 0, 0
	for _, recs := range sent {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res, err := agent.SendUsage(ctx, recs)
		cancel()
		if err != nil {
			t.Fatalf("resend batch of %s seq %d: %v", recs[0].NodeID, recs[0].Seq, err)
		}
		for i, r := range res.Records {
			if r.Status != billingclient.RecordDuplicate {
				if fresh++; fresh <= 5 {
					t.Errorf("resent record %s/%d: %s %s, want duplicate", recs[i].NodeID, recs[i].Seq, r.Status, r.Reason)
				}
				continue
			}
			dups++
		}
	}
	t.Logf("resent %d batches after the restart: %d of %d records duplicate", len(sent), dups, batches*l.batch)
	if fresh > 0 {
		t.Errorf("%d resent records were not answered duplicate (the first 5 above)", fresh)
	}
	same("after resending every batch")
}

// appliedIndex returns the raft index the (single) replica has applied.
func appliedIndex(t *testing.T, admin *billingclient.Client) uint64 {
	t.Helper()
	set, err := admin.Replicas(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return set.AppliedIndex
}

// latestSnapshot returns the highest raft index of the snapshots in dir
// (raft's file snapshot store: <dir>/<id>/meta.json), 0 when there is none.
func latestSnapshot(t *testing.T, dir string) uint64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var max uint64
	for _, e := range ents {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name(), "meta.json"))
		if err != nil {
			continue // being written
		}
		var meta struct{ Index uint64 }
		if err := json.Unmarshal(raw, &meta); err != nil {
			t.Fatalf("snapshot %s: meta.json: %v", e.Name(), err)
		}
		if meta.Index > max {
			max = meta.Index
		}
	}
	return max
}

// walFirstIndex returns the first index of the raft log in the raft-wal
// directory dir of a stopped replica. It opens a copy, so that nothing the
// WAL does on open touches the replica's files.
func walFirstIndex(t *testing.T, dir string) uint64 {
	t.Helper()
	cp := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		copyFile(t, filepath.Join(dir, e.Name()), filepath.Join(cp, e.Name()))
	}
	meta := &metadb.BoltMetaDB{}
	w, err := raftwal.Open(cp, raftwal.WithMetaStore(meta))
	if err != nil {
		meta.Close()
		t.Fatalf("open a copy of the raft log: %v", err)
	}
	defer func() { w.Close(); meta.Close() }()
	first, err := w.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	return first
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// usageOf returns every tenant's usage totals over the load's windows.
func usageOf(t *testing.T, admin *billingclient.Client, l *load) map[string]contract.Counters {
	t.Helper()
	_, _, first, last := l.expected()
	out := map[string]contract.Counters{}
	for _, ten := range l.tenants {
		s, err := admin.Usage(context.Background(), ten, billingclient.UsageQuery{From: first.Add(-time.Hour), To: last.Add(time.Hour), Granularity: "hour"})
		if err != nil {
			t.Fatal(err)
		}
		out[ten] = s.Total
	}
	return out
}

// draftsBefore returns every tenant's invoices whose period starts before
// cut, in period order; it fails the test if one is not a draft.
func draftsBefore(t *testing.T, admin *billingclient.Client, tenants []string, cut time.Time) map[string][]contract.Invoice {
	t.Helper()
	out := map[string][]contract.Invoice{}
	for _, ten := range tenants {
		invs, err := admin.ListInvoices(context.Background(), billingclient.InvoiceQuery{TenantID: ten})
		if err != nil {
			t.Fatal(err)
		}
		var keep []contract.Invoice
		for _, inv := range invs {
			if !inv.PeriodStart.Before(cut) {
				continue
			}
			if inv.Status != contract.InvoiceDraft {
				t.Fatalf("invoice %s of %s is %s, want a draft (grace is 1h)", inv.ID, ten, inv.Status)
			}
			keep = append(keep, inv)
		}
		sort.Slice(keep, func(i, j int) bool { return keep[i].PeriodStart.Before(keep[j].PeriodStart) })
		out[ten] = keep
	}
	return out
}

func jsonOf(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err.Error()
	}
	return string(b)
}
