package ledger

import (
	"errors"
	"strings"
	"testing"
)

const goodBatch = `{"cluster_id":"c1","records":[{"node_id":"n1","seq":1,"tenant_id":"t1","start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:01:00.5Z","reads":10,"writes":2,"queries":1,"query_compute_ms":5,"ingress_bytes":100,"egress_bytes":2000,"storage_byte_seconds":60000}]}`

func TestDecodeUsageBatch(t *testing.T) {
	b, err := DecodeUsageBatch(strings.NewReader(goodBatch))
	if err != nil {
		t.Fatal(err)
	}
	r := b.Records[0]
	if b.ClusterID != "c1" || r.NodeID != "n1" || r.Seq != 1 || r.Tenant != "t1" || r.Start != t0.UnixNano() ||
		r.End != t0.Add(60500e6).UnixNano() || r.Reads != 10 || r.StorageByteSeconds != 60000 || r.EgressBytes != 2000 {
		t.Fatalf("decoded = %+v", b)
	}
	if c := b.Command(Header{Time: 1, Actor: "cluster:c1"}, "c1"); c.ClusterID != "c1" || len(c.Records) != 1 {
		t.Fatalf("command = %+v", c)
	}
	if err := b.CheckCluster(Cluster{ID: "c1"}); err != nil {
		t.Fatalf("CheckCluster(c1) = %v", err)
	}
	if err := b.CheckCluster(Cluster{ID: "c2"}); !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), `names cluster "c1"`) {
		t.Fatalf("CheckCluster(c2) = %v", err)
	}
	if err := (UsageBatch{}).CheckCluster(Cluster{ID: "c2"}); err != nil {
		t.Fatalf("a body naming no cluster: %v", err)
	}
}

func TestDecodeUsageBatchErrors(t *testing.T) {
	rec := func(s string) string { return `{"records":[` + s + `]}` }
	tests := []struct {
		name, body, msg string
		want            error
	}{
		{"empty", ``, "body: empty", ErrInvalid},
		{"not json", `{`, "body: truncated", ErrInvalid},
		{"syntax", `{"records":[}`, "body: invalid JSON", ErrInvalid},
		{"two values", `{"records":[{"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}]} {}`, "unexpected data", ErrInvalid},
		{"unknown field", `{"records":[],"extra":1}`, "extra: unknown field", ErrInvalid},
		{"unknown record field", rec(`{"seqq":1}`), "seqq: unknown field", ErrInvalid},
		{"no records", `{"records":[]}`, "records: at least one", ErrInvalid},
		{"negative", rec(`{"reads":-1}`), "records.reads: want a non-negative integer, got JSON number -1", ErrInvalid},
		{"float", rec(`{"seq":1.5}`), "records.seq: want a non-negative integer", ErrInvalid},
		{"string counter", rec(`{"writes":"5"}`), "records.writes", ErrInvalid},
		{"no start", rec(`{"end":"2026-01-01T00:00:00Z"}`), "records[0].start: required", ErrInvalid},
		{"bad time", rec(`{"start":"yesterday","end":"2026-01-01T00:00:00Z"}`), `records[0].start: "yesterday" is not an RFC 3339 time`, ErrInvalid},
		{"old time", rec(`{"start":"1900-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}`), "records[0].start: 1900-01-01T00:00:00Z is out of range", ErrInvalid},
		{"huge counter", rec(`{"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z","egress_bytes":18446744073709551615}`), "records[0].egress_bytes: 18446744073709551615 exceeds 2^63-1", ErrInvalid},
		{"bad cluster", `{"cluster_id":"a b","records":[]}`, "cluster_id: invalid id", ErrInvalid},
		{"array", `[]`, "body: want an object", ErrInvalid},
		{"too large", `{"records":[` + strings.Repeat(" ", MaxUsageBodyBytes) + `]}`, "body: larger than", ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeUsageBatch(strings.NewReader(tc.body))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
	many := `{"records":[` + strings.TrimSuffix(strings.Repeat(`{"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"},`, MaxBatchRecords+1), ",") + `]}`
	if _, err := DecodeUsageBatch(strings.NewReader(many)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "batch limit") {
		t.Fatalf("too many records: %v", err)
	}
}

func TestDecodeTenantRequest(t *testing.T) {
	req, err := DecodeTenantRequest(strings.NewReader(`{"organization":"Acme","name":"Prod","tier":"starter","email":"ops@acme.example"}`))
	if err != nil {
		t.Fatal(err)
	}
	c := req.Command(Header{Time: 1, Actor: "admin"}, "tn_1")
	if c.ID != "tn_1" || c.Tier != "starter" || c.Email != "ops@acme.example" || c.Organization != "Acme" {
		t.Fatalf("command = %+v", c)
	}
	tests := []struct{ name, body, msg string }{
		{"missing tier", `{"organization":"A","name":"B","email":"a@b.example"}`, "tier: required"},
		{"bad tier", `{"organization":"A","name":"B","tier":"Gold!","email":"a@b.example"}`, `tier: invalid tier name "Gold!"`},
		{"missing org", `{"name":"B","tier":"free","email":"a@b.example"}`, "organization: required"},
		{"bad email", `{"organization":"A","name":"B","tier":"free","email":"x@"}`, "email: invalid email address"},
		{"unknown", `{"organization":"A","name":"B","tier":"free","email":"a@b.example","id":"x"}`, "id: unknown field"},
		{"number name", `{"organization":"A","name":5,"tier":"free","email":"a@b.example"}`, "name: want a string, got JSON number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeTenantRequest(strings.NewReader(tc.body))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %q", err, tc.msg)
			}
		})
	}
}

func TestDecodeTenantPatch(t *testing.T) {
	p, err := DecodeTenantPatch(strings.NewReader(`{"name":"New","tier":"professional"}`))
	if err != nil {
		t.Fatal(err)
	}
	cmds := p.Commands(Header{Time: 1, Actor: "admin"}, "t1")
	if len(cmds) != 2 || cmds[0].(UpdateTenant).Name != "New" || cmds[1].(ChangeTier).Tier != "professional" {
		t.Fatalf("commands = %+v", cmds)
	}
	for _, tc := range []struct{ body, msg string }{
		{`{}`, "at least one of"},
		{`{"name":""}`, "name: required"},
		{`{"email":"nope"}`, "email: invalid"},
		{`{"tier":""}`, "tier: required"},
		{`{"status":"active"}`, "status: unknown field"},
	} {
		if _, err := DecodeTenantPatch(strings.NewReader(tc.body)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("DecodeTenantPatch(%s) = %v, want %q", tc.body, err, tc.msg)
		}
	}
}

func TestNewID(t *testing.T) {
	a, b := NewID("tn_"), NewID("tn_")
	if a == b || len(a) != 23 || !strings.HasPrefix(a, "tn_") || checkID("id", a) != nil {
		t.Fatalf("NewID = %q, %q", a, b)
	}
}

func TestNewToken(t *testing.T) {
	tok, hash := NewToken()
	tok2, _ := NewToken()
	if tok == tok2 || !strings.HasPrefix(tok, "aet_") || len(tok) != 36 || HashToken(tok) != hash {
		t.Fatalf("NewToken = %q %x", tok, hash)
	}
}

func TestRecordStatusText(t *testing.T) {
	for _, s := range []RecordStatus{RecordAccepted, RecordDuplicate, RecordRejected} {
		b, _ := s.MarshalText()
		var back RecordStatus
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("round trip of %s = %s, %v", s, back, err)
		}
	}
	var s RecordStatus
	if err := s.UnmarshalText([]byte("lost")); err == nil {
		t.Error("unknown status accepted")
	}
}
