package api

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/billing/ledger"
)

// plainBody is a usage body in the form the Go client sends.
func plainBody(n int) string {
	var b strings.Builder
	b.WriteString(`{"cluster_id":"cl-1","records":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"node_id":"n1","seq":%d,"tenant_id":"tn_%d","start":"2026-01-02T03:04:05.123456789Z","end":"2026-01-02T03:05:05Z","reads":%d,"writes":2,"queries":3,"query_compute_ms":4,"ingress_bytes":5,"egress_bytes":6,"storage_byte_seconds":7}`, i+1, i%7, i*11)
	}
	b.WriteString("]}\n")
	return b.String()
}

func TestFastUsage(t *testing.T) {
	tests := []struct {
		name string
		body string
		fast bool // fastUsage decodes it (else it defers to the ledger)
	}{
		{"client form", plainBody(100), true},
		{"spaces and no cluster", " {\n \"records\" : [ {\"start\":\"2026-01-01T00:00:00+01:00\", \"end\":\"2026-01-01T00:01:00Z\"} ] } ", true},
		{"escape", `{"records":[{"node_id":"n\u0031","start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}]}`, false},
		{"unknown field", `{"records":[{"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z","color":1}]}`, false},
		{"upper-case key", `{"Records":[{"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}]}`, false},
		{"duplicate key", `{"records":[{"reads":1,"reads":2,"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}]}`, false},
		{"missing end", `{"records":[{"start":"2026-01-01T00:00:00Z"}]}`, false},
		{"float", `{"records":[{"reads":1.5,"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}]}`, false},
		{"negative", `{"records":[{"reads":-1,"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}]}`, false},
		{"counter above 2^63-1", `{"records":[{"reads":9223372036854775808,"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}]}`, false},
		{"null", `{"records":null}`, false},
		{"empty records", `{"records":[]}`, false},
		{"trailing data", plainBody(1) + "{}", false},
		{"bad cluster id", `{"cluster_id":"-x","records":[{"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}]}`, false},
		{"year 1969", `{"records":[{"start":"1969-12-31T23:59:59Z","end":"2026-01-01T00:00:00Z"}]}`, false},
		{"too many records", plainBody(ledger.MaxBatchRecords + 1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := fastUsage([]byte(tc.body))
			if ok != tc.fast {
				t.Fatalf("fastUsage ok = %v, want %v", ok, tc.fast)
			}
			want, err := ledger.DecodeUsageBatch(strings.NewReader(tc.body))
			if ok && (err != nil || !reflect.DeepEqual(got, want)) {
				t.Fatalf("fastUsage = %+v, ledger = %+v, %v", got, want, err)
			}
			d, derr := decodeUsage(strings.NewReader(tc.body))
			if (derr == nil) != (err == nil) || (err == nil && !reflect.DeepEqual(d, want)) {
				t.Fatalf("decodeUsage = %+v, %v; ledger = %+v, %v", d, derr, want, err)
			}
		})
	}
}

// FuzzFastUsage checks that whenever the fast decoder accepts a body, the
// ledger's decoder accepts it too and decodes the same batch.
func FuzzFastUsage(f *testing.F) {
	for _, s := range []string{plainBody(1), plainBody(3), `{"records":[{"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}]}`,
		`{"cluster_id":"c","records":[{"seq":0,"reads":0,"start":"2026-01-01T00:00:00.5-07:00","end":"2261-12-31T23:59:59Z"}]}`,
		`{"records":[{"seq":18446744073709551615,"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}]}`,
		`{"records":[{"node_id":"n1","incarnation":"9f0c2a","seq":1,"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := fastUsage(body)
		if !ok {
			return
		}
		want, err := ledger.DecodeUsageBatch(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("fastUsage accepted %q, the ledger refuses it: %v", body, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("body %q: fastUsage = %+v, ledger = %+v", body, got, want)
		}
	})
}

func BenchmarkDecodeUsage(b *testing.B) {
	body := []byte(plainBody(100))
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeUsage(bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ledger", func(b *testing.B) {
		for b.Loop() {
			if _, err := ledger.DecodeUsageBatch(bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
