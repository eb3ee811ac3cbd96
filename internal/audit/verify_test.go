package audit

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// tamperedLog writes a log of n records and returns it after change, which
// gets the lines with their newlines.
func tamperedLog(t *testing.T, n int, change func(lines [][]byte) [][]byte) []byte {
	t.Helper()
	path := writeLog(t, n, Config{Path: filepath.Join(t.TempDir(), "audit.jsonl")})
	lines := readLines(t, path)
	lines = lines[:len(lines)-1] // the empty piece after the last newline
	return bytes.Join(change(lines), nil)
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name     string
		change   func(l [][]byte) [][]byte
		wantLine int
		wantKind Kind
	}{
		{"edited value", func(l [][]byte) [][]byte {
			l[2] = bytes.Replace(l[2], []byte(`"role":"read"`), []byte(`"role":"rw"`), 1)
			return l
		}, 3, KindEdited},
		{"edited white space", func(l [][]byte) [][]byte {
			l[2] = bytes.Replace(l[2], []byte(`,"action"`), []byte(`, "action"`), 1)
			return l
		}, 3, KindEdited},
		{"edited with the hash recomputed", func(l [][]byte) [][]byte {
			r, _ := DecodeLine(bytes.TrimSuffix(l[2], []byte("\n")))
			r.Outcome = OutcomeDenied
			l[2] = append(hasher{}.seal(&r), '\n')
			return l
		}, 4, KindChain},
		{"removed", func(l [][]byte) [][]byte {
			return append(l[:2:2], l[3:]...)
		}, 3, KindRemoved},
		{"removed two", func(l [][]byte) [][]byte {
			return append(l[:2:2], l[4:]...)
		}, 3, KindRemoved},
		{"removed first", func(l [][]byte) [][]byte {
			return l[1:]
		}, 1, KindStart},
		{"swapped", func(l [][]byte) [][]byte {
			l[2], l[3] = l[3], l[2]
			return l
		}, 3, KindReordered},
		{"moved down", func(l [][]byte) [][]byte {
			moved := l[1]
			out := append([][]byte{l[0]}, l[2:5]...)
			return append(append(out, moved), l[5:]...)
		}, 2, KindReordered},
		{"duplicated", func(l [][]byte) [][]byte {
			return append(l[:3:3], append([][]byte{l[2]}, l[3:]...)...)
		}, 4, KindInserted},
		{"inserted forgery with a valid hash", func(l [][]byte) [][]byte {
			r, _ := DecodeLine(bytes.TrimSuffix(l[2], []byte("\n")))
			r.Seq, r.Prev, r.Target = 4, lineHash(bytes.TrimSuffix(l[2], []byte("\n"))), "key:forged"
			forged := append(hasher{}.seal(&r), '\n')
			return append(l[:3:3], append([][]byte{forged}, l[3:]...)...)
		}, 5, KindInserted},
		{"truncated mid-line", func(l [][]byte) [][]byte {
			l[5] = l[5][:len(l[5])/2]
			return l
		}, 6, KindTruncated},
		{"blank line", func(l [][]byte) [][]byte {
			return append(l[:2:2], append([][]byte{[]byte("\n")}, l[2:]...)...)
		}, 3, KindMalformed},
		{"not json", func(l [][]byte) [][]byte {
			l[1] = []byte("hello\n")
			return l
		}, 2, KindMalformed},
		{"unknown field", func(l [][]byte) [][]byte {
			l[1] = bytes.Replace(l[1], []byte(`{"seq"`), []byte(`{"x":1,"seq"`), 1)
			return l
		}, 2, KindEdited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := tamperedLog(t, 6, tt.change)
			_, err := Verify(bytes.NewReader(log), VerifyOptions{})
			ve, ok := err.(*VerifyError)
			if !ok || ve.Line != tt.wantLine || ve.Kind != tt.wantKind {
				t.Fatalf("Verify = %v, want line %d: %s", err, tt.wantLine, tt.wantKind)
			}
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("error %q does not lead with the line", err)
			}
		})
	}
}

func TestVerifyAnchors(t *testing.T) {
	log := tamperedLog(t, 6, func(l [][]byte) [][]byte { return l })
	full, err := Verify(bytes.NewReader(log), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(log, []byte("\n"))
	third := Link{Seq: 3, Hash: lineHash(bytes.TrimSuffix(lines[2], []byte("\n")))}

	rep, err := Verify(bytes.NewReader(log), VerifyOptions{Anchors: []Link{third, full.Last}})
	if err != nil || rep.Anchored != 2 {
		t.Fatalf("Verify with anchors = %+v, %v", rep, err)
	}
	// The tail cut off: the chain is intact, but the last anchor is past
	// the end.
	cut := bytes.Join(lines[:4], nil)
	rep, err = Verify(bytes.NewReader(cut), VerifyOptions{Anchors: []Link{third, full.Last}})
	if err != nil || rep.Last.Seq >= full.Last.Seq || rep.Anchored != 1 {
		t.Fatalf("cut log: %+v, %v", rep, err)
	}
	// A rewritten chain no longer matches the anchor.
	bad := third
	bad.Hash = strings.Repeat("a", 64)
	if _, err := Verify(bytes.NewReader(log), VerifyOptions{Anchors: []Link{bad}}); !isKind(err, KindAnchor) {
		t.Errorf("mismatched anchor: %v, want %s", err, KindAnchor)
	}

	l, err := ParseLink(third.String())
	if err != nil || l != third {
		t.Errorf("ParseLink(%q) = %v, %v", third.String(), l, err)
	}
	for _, s := range []string{"", "3", "0:" + third.Hash, "x:" + third.Hash, "3:abc", "3:" + strings.ToUpper(third.Hash)} {
		if _, err := ParseLink(s); err == nil {
			t.Errorf("ParseLink(%q) accepted", s)
		}
	}
}

func TestVerifyLongLine(t *testing.T) {
	log := append(bytes.Repeat([]byte("x"), 300), '\n')
	_, err := Verify(bytes.NewReader(log), VerifyOptions{MaxLineBytes: 100})
	if !isKind(err, KindMalformed) || !strings.Contains(err.Error(), "longer than 100") {
		t.Errorf("Verify = %v, want a too-long error", err)
	}
}

func TestVerifyEmpty(t *testing.T) {
	rep, err := Verify(strings.NewReader(""), VerifyOptions{})
	if err != nil || rep.Records != 0 {
		t.Errorf("Verify(empty) = %+v, %v", rep, err)
	}
}

func TestOutcomeOf(t *testing.T) {
	tests := []struct {
		status int
		want   Outcome
	}{
		{200, OutcomeOK}, {204, OutcomeOK}, {304, OutcomeOK},
		{400, OutcomeError}, {404, OutcomeError}, {412, OutcomeError}, {500, OutcomeError}, {503, OutcomeError},
		{401, OutcomeDenied}, {402, OutcomeDenied}, {403, OutcomeDenied}, {429, OutcomeDenied}, {507, OutcomeDenied},
	}
	for _, tt := range tests {
		if got := OutcomeOf(tt.status); got != tt.want {
			t.Errorf("OutcomeOf(%d) = %s, want %s", tt.status, got, tt.want)
		}
	}
}
