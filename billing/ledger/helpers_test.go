package ledger

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// t0 is the fixtures' starting clock: 2026-01-01T00:00:00Z.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fixture is a ledger on a bbolt file with a settable clock. Every command
// that fails, or succeeds without change, is checked to leave the state
// byte for byte as it was.
type fixture struct {
	t     *testing.T
	db    *bolt.DB
	sm    *StateMachine
	now   time.Time
	index uint64
	actor string
	// fast skips the state comparison around failed and unchanged
	// commands (for long randomized runs, which check their results
	// otherwise).
	fast bool
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, Config{})
}

func newFixtureWith(t *testing.T, cfg Config) *fixture {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "ledger.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sm, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, db: db, sm: sm, now: t0, actor: "admin"}
}

// h is a header at the fixture's clock.
func (f *fixture) h() Header { return Header{Time: f.now.UnixNano(), Actor: f.actor} }

// advance moves the clock.
func (f *fixture) advance(d time.Duration) { f.now = f.now.Add(d) }

// apply encodes and applies c in its own transaction.
func (f *fixture) apply(c Command) Result {
	f.t.Helper()
	raw, err := Encode(c)
	if err != nil {
		f.t.Fatalf("Encode(%T) = %v", c, err)
	}
	return f.applyRaw(raw)
}

func (f *fixture) applyRaw(raw []byte) Result {
	f.t.Helper()
	var before string
	if !f.fast {
		before = f.dump()
	}
	f.index++
	var out []byte
	if err := f.db.Update(func(tx *bolt.Tx) error {
		out = f.sm.Apply(tx, f.index, raw)
		return nil
	}); err != nil {
		f.t.Fatal(err)
	}
	r, err := DecodeResult(out)
	if err != nil {
		f.t.Fatalf("DecodeResult = %v", err)
	}
	if (r.Err != nil || r.Unchanged) && !f.fast {
		if after := f.dump(); after != before {
			f.t.Fatalf("command %v (err %v, unchanged %v) changed the state:\n%s", r.Kind, r.Err, r.Unchanged, diffLines(before, after))
		}
	}
	return r
}

// ok applies c and fails the test on an error.
func (f *fixture) ok(c Command) Result {
	f.t.Helper()
	r := f.apply(c)
	if r.Err != nil {
		f.t.Fatalf("%s: unexpected error %s: %s", c.Kind(), r.Err.Code, r.Err.Message)
	}
	return r
}

// fail applies c and checks it fails matching want, with a message
// containing each of msgs.
func (f *fixture) fail(c Command, want error, msgs ...string) *Error {
	f.t.Helper()
	r := f.apply(c)
	if r.Err == nil {
		f.t.Fatalf("%s: succeeded, want %v", c.Kind(), want)
	}
	if !errors.Is(r.Err, want) {
		f.t.Fatalf("%s: error %s %q, want %v", c.Kind(), r.Err.Code, r.Err.Message, want)
	}
	for _, m := range msgs {
		if !strings.Contains(r.Err.Message, m) {
			f.t.Fatalf("%s: error %q does not mention %q", c.Kind(), r.Err.Message, m)
		}
	}
	return r.Err
}

func (f *fixture) view(fn func(tx *bolt.Tx) error) {
	f.t.Helper()
	if err := f.db.View(fn); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) tenant(id string) Tenant {
	f.t.Helper()
	var t Tenant
	f.view(func(tx *bolt.Tx) (err error) { t, err = GetTenant(tx, id); return })
	return t
}

func (f *fixture) invoice(id string) Invoice {
	f.t.Helper()
	var inv Invoice
	f.view(func(tx *bolt.Tx) (err error) { inv, err = GetInvoice(tx, id); return })
	return inv
}

func (f *fixture) audit(tenant string) []AuditEntry {
	f.t.Helper()
	var es []AuditEntry
	f.view(func(tx *bolt.Tx) (err error) { es, err = Audit(tx, tenant, 0, 1000); return })
	return es
}

// lastAudit returns the tenant's newest audit entry.
func (f *fixture) lastAudit(tenant string) AuditEntry {
	f.t.Helper()
	es := f.audit(tenant)
	if len(es) == 0 {
		f.t.Fatalf("tenant %s has no audit entries", tenant)
	}
	return es[len(es)-1]
}

// createTenant creates a tenant on tierName at the fixture's clock.
func (f *fixture) createTenant(id, tierName string) Tenant {
	f.t.Helper()
	r := f.ok(CreateTenant{Header: f.h(), ID: id, Organization: "Org " + id, Name: "Team " + id, Tier: tierName, Email: id + "@example.com"})
	return *r.Tenant
}

// token returns a deterministic token hash for a cluster id.
func token(cluster string) [32]byte { return sha256.Sum256([]byte("token-" + cluster)) }

func (f *fixture) registerCluster(id string, tenants ...string) Cluster {
	f.t.Helper()
	r := f.ok(RegisterCluster{Header: f.h(), ClusterID: id, Tenants: tenants, TokenHash: token(id)})
	return *r.Cluster
}

// rec builds a usage record with reads and writes at time at.
func rec(node string, seq uint64, tenant string, at time.Time, reads, writes uint64) UsageRecord {
	return UsageRecord{NodeID: node, Seq: seq, Tenant: tenant, Start: at.UnixNano(), End: at.Add(time.Minute).UnixNano(), Reads: reads, Writes: writes}
}

func (f *fixture) ingest(cluster string, recs ...UsageRecord) *IngestResult {
	f.t.Helper()
	r := f.ok(IngestUsage{Header: f.h(), ClusterID: cluster, Records: recs})
	if r.Ingest == nil {
		f.t.Fatal("IngestUsage returned no ingest result")
	}
	return r.Ingest
}

// dump renders the whole database (every bucket, nested ones too, with
// sequences) as sorted lines.
func (f *fixture) dump() string { return dumpDB(f.t, f.db) }

func dumpDB(t *testing.T, db *bolt.DB) string {
	t.Helper()
	var lines []string
	var walk func(path string, b *bolt.Bucket)
	walk = func(path string, b *bolt.Bucket) {
		lines = append(lines, fmt.Sprintf("%s seq=%d", path, b.Sequence()))
		_ = b.ForEach(func(k, v []byte) error {
			if v == nil {
				walk(path+"/"+string(k), b.Bucket(k))
				return nil
			}
			lines = append(lines, fmt.Sprintf("%s/%q=%q", path, k, v))
			return nil
		})
	}
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			walk(string(name), b)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var buf bytes.Buffer
	for _, l := range al {
		if !slices.Contains(bl, l) {
			fmt.Fprintf(&buf, "- %.200s\n", l)
		}
	}
	for _, l := range bl {
		if !slices.Contains(al, l) {
			fmt.Fprintf(&buf, "+ %.200s\n", l)
		}
	}
	return buf.String()
}
