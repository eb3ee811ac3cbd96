package audit

import (
	"bytes"
	"errors"
	"testing"
)

// seedLog is a small valid log for the fuzz corpora.
func seedLog(f *testing.F) []byte {
	f.Helper()
	h := hasher{}
	prev := GenesisPrev
	var out []byte
	for i := range 3 {
		r := Record{Seq: uint64(i + 1), Time: "2026-11-27T02:00:00.5Z", Actor: Actor{Kind: "admin", KeyID: "k1"},
			Action: "key.create", Target: "key:x", Outcome: OutcomeOK, Detail: map[string]string{"role": "read"}, Prev: prev}
		line := h.seal(&r)
		prev = lineHash(line)
		out = append(append(out, line...), '\n')
	}
	return out
}

// FuzzVerify feeds arbitrary bytes to Verify: it must not panic, a problem
// must be a *VerifyError naming a line within the input, and an accepted
// input must have one record per line with consecutive seqs.
func FuzzVerify(f *testing.F) {
	good := seedLog(f)
	f.Add(good)
	f.Add(good[:len(good)-7])
	f.Add(bytes.Replace(good, []byte(`"read"`), []byte(`"admin"`), 1))
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"seq":1}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Verify(bytes.NewReader(data), VerifyOptions{MaxLineBytes: 4096})
		lines := bytes.Count(data, []byte("\n"))
		if err != nil {
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *VerifyError", err)
			}
			if ve.Line < 1 || ve.Line > lines+1 {
				t.Fatalf("error names line %d of %d", ve.Line, lines+1)
			}
			return
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			t.Fatal("accepted a log without a final newline")
		}
		if rep.Records != lines {
			t.Fatalf("%d records from %d lines", rep.Records, lines)
		}
		if rep.Records > 0 && rep.Last.Seq-rep.First.Seq != uint64(rep.Records-1) {
			t.Fatalf("seqs %d..%d for %d records", rep.First.Seq, rep.Last.Seq, rep.Records)
		}
	})
}

// FuzzDecodeLine checks that every line DecodeLine accepts is exactly the
// canonical encoding of what it decoded, with valid fields.
func FuzzDecodeLine(f *testing.F) {
	for _, l := range bytes.Split(seedLog(f), []byte("\n")) {
		f.Add(l)
	}
	f.Add([]byte(`{"seq":1,"time":"x","actor":{"kind":"a"},"action":"b","target":"","outcome":"ok","prev":"","hash":""}`))
	f.Add([]byte(`{"seq":1,"seq":2}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := DecodeLine(line)
		if err != nil {
			return
		}
		if !bytes.Equal(encode(&r), line) {
			t.Fatalf("accepted non-canonical line %q", line)
		}
		if err := r.validate(); err != nil {
			t.Fatalf("accepted invalid record: %v", err)
		}
	})
}
