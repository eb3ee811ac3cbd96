package api

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/aerolithdb/aerolith/billing/ledger"
)

func TestAppendIngestResult(t *testing.T) {
	for _, ir := range []*ledger.IngestResult{
		{Records: []ledger.RecordResult{}},
		{Accepted: 1, Duplicates: 1, Rejected: 2, Records: []ledger.RecordResult{
			{Status: ledger.RecordAccepted}, {Status: ledger.RecordDuplicate},
			{Status: ledger.RecordRejected, Code: ledger.CodeForbidden, Reason: `tenant_id: "<t>" is not served by cluster "c"` + "\n\u2028"},
			{Status: ledger.RecordRejected, Code: ledger.CodeState, Reason: "seq: gaps", Retry: true},
		}},
	} {
		got := appendIngestResult(nil, ir)
		want, err := json.Marshal(ir)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("invalid JSON %s: %v", got, err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("appendIngestResult = %s\nencoding/json   = %s", got, want)
		}
	}
}
