package csvcell

import (
	"bytes"
	"encoding/csv"
	"testing"
)

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"=1+1", "'=1+1"},
		{"=HYPERLINK(\"http://evil.example\",\"x\")", "'=HYPERLINK(\"http://evil.example\",\"x\")"},
		{"+1+1", "'+1+1"},
		{"-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"},
		{"@SUM(A1:A2)", "'@SUM(A1:A2)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"a=1", "a=1"},
		{"-12.50", "-12.50"},
		{"+3e2", "+3e2"},
		{"-1E-3", "-1E-3"},
		{"-", "'-"},
		{"-.", "'-."},
		{"-1e", "'-1e"},
		{"-Inf", "'-Inf"},
		{"'quoted", "''quoted"},
		{"'=a", "''=a"},
		{"'-1", "''-1"},
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Unescape(Escape(tt.in)); got != tt.in {
			t.Errorf("Unescape(Escape(%q)) = %q", tt.in, got)
		}
	}
}

// FuzzEscape: no escaped cell starts with a formula trigger unless it is a
// plain number, and Unescape gives the text back, also through a CSV
// writer and reader.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "=1", "-1", "-x", "@a", "\t", "\r\n", "'=a", "+1e5", "a,b\"c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := Escape(s)
		if e != "" && trigger(e[0]) && !isNumber(e) {
			t.Fatalf("Escape(%q) = %q starts with a formula trigger", s, e)
		}
		if got := Unescape(e); got != s {
			t.Fatalf("Unescape(Escape(%q)) = %q", s, got)
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		if err := w.Write([]string{e}); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		rec, err := csv.NewReader(&buf).Read()
		if err == nil && len(rec) == 1 && rec[0] != e && e != "" {
			// encoding/csv normalizes \r\n to \n inside quoted fields.
			if !bytes.ContainsRune([]byte(e), '\r') {
				t.Fatalf("csv round trip of %q = %q", e, rec[0])
			}
		}
	})
}
