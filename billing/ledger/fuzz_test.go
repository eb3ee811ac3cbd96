package ledger

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/internal/jsontext/jsontexttest"
)

func FuzzDecodeUsageBatch(f *testing.F) {
	f.Add([]byte(goodBatch))
	f.Add([]byte(`{"records":[{"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z","seq":18446744073709551615}]}`))
	f.Add([]byte(`{"records":[{"reads":-1}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"records":[{"node_id":"n1","incarnation":"9f0c2a","seq":1,"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"records":[{"reads":1,"reads":2,"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}]}`))
	f.Add([]byte("{\"records\":[{\"node_id\":\"n\xff\",\"start\":\"2026-01-01T00:00:00Z\",\"end\":\"2026-01-01T00:00:00Z\"}]}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := DecodeUsageBatch(bytes.NewReader(body))
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v matches neither ErrInvalid nor ErrTooLarge", err)
			}
			return
		}
		if len(b.Records) == 0 || len(b.Records) > MaxBatchRecords {
			t.Fatalf("accepted %d records", len(b.Records))
		}
		jsontexttest.Clean(t, body)
		// Whatever decodes, encodes and decodes back to the same command.
		c := b.Command(Header{Time: 1, Actor: "fuzz"}, "c1")
		raw, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(raw)
		if err != nil {
			t.Fatalf("Decode(Encode(batch)) = %v", err)
		}
		if got := back.(IngestUsage); len(got.Records) != len(c.Records) || got.Records[0] != c.Records[0] {
			t.Fatalf("round trip changed the batch")
		}
	})
}

func FuzzDecodeTenantRequest(f *testing.F) {
	f.Add([]byte(`{"organization":"Acme","name":"Prod","tier":"starter","email":"ops@acme.example"}`))
	f.Add([]byte(`{"organization":" A","name":"B","tier":"free","email":"a@b"}`))
	f.Add([]byte(`{"name":"\u0000"}`))
	f.Add([]byte(`{"organization":"Acme","name":"a","name":"b","tier":"free","email":"a@b"}`))
	f.Add([]byte("{\"organization\":\"Ac\xc3me\",\"name\":\"n\",\"tier\":\"free\",\"email\":\"a@b\"}"))
	f.Add([]byte(`{"organization":"Acme","name":"\ud800","tier":"free","email":"a@b"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeTenantRequest(bytes.NewReader(body))
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
		} else {
			jsontexttest.Clean(t, body)
			// A decoded request passes the state machine's own field checks.
			if e := checkText("name", req.Name, maxTextLen, true); e != nil {
				t.Fatalf("decoded name fails Apply's check: %v", e)
			}
			if e := checkEmail("email", req.Email); e != nil {
				t.Fatalf("decoded email fails Apply's check: %v", e)
			}
		}
		if _, err := DecodeTenantPatch(bytes.NewReader(body)); err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("patch error %v is not ErrInvalid", err)
		}
	})
}

// FuzzApply applies arbitrary bytes (seeded with every command kind) to a
// ledger holding a tenant, a cluster, a billing API key and an invoice:
// Apply must never panic, must always return a decodable result, and must
// leave the state untouched when the command fails.
func FuzzApply(f *testing.F) {
	for _, c := range allCommands() {
		b, err := Encode(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{commandFormat})
	if b, err := Encode(IngestUsage{Header{Time: 1, Actor: "a"}, "c1", []UsageRecord{{NodeID: "n1", Incarnation: "a1", Seq: 1, Tenant: "t1", Start: 1, End: 2, Writes: 1}}}); err == nil {
		f.Add(b) // format 3: records with an incarnation
	}
	dir := f.TempDir()
	sm, _ := New(Config{})
	n := 0
	f.Fuzz(func(t *testing.T, cmd []byte) {
		n++
		path := filepath.Join(dir, "fuzz-"+itoa(n)+".db")
		db, err := bolt.Open(path, 0o600, &bolt.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(path)
		defer db.Close()
		fx := &fixture{t: t, db: db, sm: sm, now: t0, actor: "admin"}
		fx.createTenant("t1", "starter")
		fx.registerCluster("c1", "t1")
		fx.createAPIKey("t1", "bk_0") // RevokeAPIKey's seed revokes it
		fx.now = feb.Add(time.Hour)
		fx.ok(closeCmd(fx.h(), "t1", t0, feb, t0, feb))
		before := fx.dump()
		var out []byte
		if err := db.Update(func(tx *bolt.Tx) error {
			out = sm.Apply(tx, 1, cmd)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		r, err := DecodeResult(out)
		if err != nil {
			t.Fatalf("Apply returned undecodable bytes: %v", err)
		}
		if (r.Err != nil || r.Unchanged) && fx.dump() != before {
			t.Fatalf("failed command changed the state")
		}
	})
}
