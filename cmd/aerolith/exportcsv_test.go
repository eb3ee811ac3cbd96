package main

import (
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestExportCSVInjection: an exported CSV never holds a cell a spreadsheet
// runs as a formula (OWASP CSV injection: '=', '+', '-', '@', tab or CR
// first); import reads the escaped file back to the same documents.
// Export wrote such values as they were.
func TestExportCSVInjection(t *testing.T) {
	srv := newFake(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	writeTestFile(t, in, strings.Join([]string{
		`{"id":"a","formula":"=HYPERLINK(\"http://evil.example\",\"x\")","plus":"+1+1","at":"@SUM(A1:A9)","n":-12.5}`,
		`{"id":"b","formula":"-2+3+cmd|' /C calc'!A0","plus":"\t=1","at":"\r=2","n":3,"quote":"'=kept"}`,
		`{"id":"=c","=col":"x"}`,
	}, "\n")+"\n")
	cli(t, srv, "", "batch", "import", "evil", "--file", in)

	exported := filepath.Join(dir, "out.csv")
	cli(t, srv, "", "batch", "export", "evil", "--file", exported)
	rows, err := csv.NewReader(strings.NewReader(readTestFile(t, exported))).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("exported csv: %d rows, %v", len(rows), err)
	}
	for _, row := range rows {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) && cell != "-12.5" {
				t.Errorf("exported cell %q starts with a formula trigger", cell)
			}
		}
	}
	if !slices.Contains(rows[0], "'=col") {
		t.Errorf("header %q: the column =col is not escaped", rows[0])
	}

	cli(t, srv, "", "batch", "import", "back", "--file", exported)
	for _, id := range []string{"a", "b", "=c"} {
		a, b := srv.Document("evil", id), srv.Document("back", id)
		if a == nil || b == nil {
			t.Fatalf("CSV round trip of %s: %v vs %v", id, a, b)
		}
		var da, db any
		if json.Unmarshal(a.Data, &da) != nil || json.Unmarshal(b.Data, &db) != nil || !reflect.DeepEqual(da, db) {
			t.Errorf("CSV round trip of %s: %s vs %s", id, a.Data, b.Data)
		}
	}
}
