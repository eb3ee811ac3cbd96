package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxLineBytes bounds a line Verify reads; records the writer makes
// are far smaller.
const DefaultMaxLineBytes = 1 << 20

// Kind classifies what Verify found wrong.
type Kind string

// The kinds of problems Verify reports.
const (
	// KindMalformed: the line is not a valid record.
	KindMalformed Kind = "malformed"
	// KindEdited: the record's hash does not match its contents, or the line
	// is not in canonical form — it was changed after it was written (or a
	// keyed log was verified without its key or with another key).
	KindEdited Kind = "edited"
	// KindRemoved: a sequence number is missing.
	KindRemoved Kind = "removed"
	// KindReordered: a sequence number is missing here but appears later.
	KindReordered Kind = "reordered"
	// KindInserted: a sequence number repeats or goes back.
	KindInserted Kind = "inserted"
	// KindChain: prev does not match the previous line: a line was inserted,
	// removed or edited and the hashes recomputed.
	KindChain Kind = "chain"
	// KindTruncated: the last line is cut (no newline), or an anchor lies
	// past the end.
	KindTruncated Kind = "truncated"
	// KindStart: the file does not start where the chain says it must.
	KindStart Kind = "start"
	// KindAnchor: a record differs from an anchor kept elsewhere.
	KindAnchor Kind = "anchor"
)

// VerifyError is the first problem Verify found.
type VerifyError struct {
	Line int  // 1-based line number in the reader
	Kind Kind // what is wrong
	Msg  string
}

func (e *VerifyError) Error() string { return fmt.Sprintf("line %d: %s: %s", e.Line, e.Kind, e.Msg) }

// Link is a point in the chain: a record's sequence number and the SHA-256
// of its line. The next record's prev is the hash.
type Link struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// String formats the link as "seq:hash", the form ParseLink reads.
func (l Link) String() string { return strconv.FormatUint(l.Seq, 10) + ":" + l.Hash }

// ParseLink parses "seq:hash".
func ParseLink(s string) (Link, error) {
	seqText, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if !ok || err != nil || seq == 0 || !isHex64(hash) {
		return Link{}, fmt.Errorf("link %q: want SEQ:HASH with a positive seq and 64 lowercase hex digits", s)
	}
	return Link{Seq: seq, Hash: hash}, nil
}

// VerifyOptions tunes Verify.
type VerifyOptions struct {
	// HMACKey verifies a keyed log (Config.HMACKey of its writer).
	HMACKey []byte
	// After is the last link of the previous file when verifying files in
	// order: the first record must follow it. When nil, the first record
	// must be seq 1 with prev GenesisPrev, or a rotation record (the report
	// then says which file it continues, whose chain was not checked).
	After *Link
	// Anchors are links recorded elsewhere (Writer.Last shipped off the
	// host). Each anchor whose seq lies within the records read must match
	// the line with that seq. Anchors past the last record are not errors
	// here, since later files may hold them: compare with Report.Last.
	Anchors []Link
	// MaxLineBytes bounds one line; 0 means DefaultMaxLineBytes.
	MaxLineBytes int
}

// Report summarises a verified stretch of the log.
type Report struct {
	Records             int
	First, Last         Link      // first and last record read
	FirstTime, LastTime time.Time // their times
	// ContinuesFrom names the previous file when the reader starts with a
	// rotation record and VerifyOptions.After was nil.
	ContinuesFrom string
	Rotations     int // rotation records read (at most one per file)
	Recovered     int // "audit.recovered" records: torn lines repaired on open
	Anchored      int // anchors matched
}

// Verify reads a log (one file, or the concatenation of files in order)
// and checks every line: canonical form, hash, sequence numbers without
// gaps or repeats, and each prev against the previous line. It returns the
// report and, for the first problem, a *VerifyError naming the line and
// the kind of problem; read errors are returned as they are.
func Verify(r io.Reader, opts VerifyOptions) (Report, error) {
	rep, _, err := verify(r, opts, false)
	return rep, err
}

// tail describes the end of what verify read.
type tail struct {
	good int64  // bytes of complete, valid lines
	torn []byte // bytes after the last newline (allowTorn only)
}

func verify(r io.Reader, opts VerifyOptions, allowTorn bool) (Report, tail, error) {
	v := verifier{opts: opts, h: hasher{key: opts.HMACKey}}
	if v.opts.MaxLineBytes <= 0 {
		v.opts.MaxLineBytes = DefaultMaxLineBytes
	}
	anchors := make(map[uint64]string, len(opts.Anchors))
	for _, a := range opts.Anchors {
		anchors[a.Seq] = a.Hash
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var t tail
	for {
		line, complete, err := readLine(br, v.opts.MaxLineBytes)
		if err != nil {
			return v.rep, t, err
		}
		if line == nil {
			return v.rep, t, nil
		}
		v.line++
		if !complete {
			if allowTorn {
				t.torn = line
				return v.rep, t, nil
			}
			return v.rep, t, v.fail(KindTruncated, "last line has no newline: cut off by a crash during a write or by truncation")
		}
		if len(line) > v.opts.MaxLineBytes {
			return v.rep, t, v.fail(KindMalformed, fmt.Sprintf("longer than %d bytes", v.opts.MaxLineBytes))
		}
		if err := v.check(line); err != nil {
			var gap *gapError
			if errors.As(err, &gap) {
				err = v.classifyGap(br, gap)
			}
			return v.rep, t, err
		}
		if want, ok := anchors[v.rep.Last.Seq]; ok {
			if want != v.rep.Last.Hash {
				return v.rep, t, v.fail(KindAnchor, fmt.Sprintf("seq %d has line hash %s, the anchor says %s", v.rep.Last.Seq, v.rep.Last.Hash, want))
			}
			v.rep.Anchored++
		}
		t.good += int64(len(line)) + 1
	}
}

// readLine returns the next line without its newline; complete is false for
// bytes at the end without one. A line longer than max is returned cut at
// max+1 bytes. It returns nil at the end.
func readLine(br *bufio.Reader, max int) (line []byte, complete bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > max+1 {
			// Too long: return max+1 bytes for the caller to reject.
			return append(line, chunk[:max+1-len(line)]...), true, nil
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return line[:len(line)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			if len(line) == 0 {
				return nil, false, nil
			}
			return line, false, nil
		default:
			return nil, false, err
		}
	}
}

type verifier struct {
	opts VerifyOptions
	h    hasher
	line int
	rep  Report
}

func (v *verifier) fail(k Kind, msg string) error {
	return &VerifyError{Line: v.line, Kind: k, Msg: msg}
}

func (v *verifier) check(line []byte) error {
	rec, err := DecodeLine(line)
	switch {
	case errors.Is(err, errNotCanonical):
		return v.fail(KindEdited, "the line is not in the canonical form the writer produces")
	case err != nil:
		return v.fail(KindMalformed, strings.TrimPrefix(err.Error(), errMalformed.Error()+": "))
	}
	if hash := rec.Hash; !bytes.Equal(v.h.seal(&rec), line) || rec.Hash != hash {
		msg := fmt.Sprintf("seq %d: hash does not match the record", rec.Seq)
		if len(v.opts.HMACKey) == 0 {
			msg += " (or the log is keyed: give its HMAC key)"
		} else {
			msg += " (or the HMAC key is not this log's)"
		}
		return v.fail(KindEdited, msg)
	}
	t, _ := time.Parse(time.RFC3339Nano, rec.Time) // validated by DecodeLine
	if v.rep.Records == 0 {
		if err := v.checkStart(&rec); err != nil {
			return err
		}
		v.rep.First = Link{Seq: rec.Seq, Hash: lineHash(line)}
		v.rep.FirstTime = t
	} else {
		last := v.rep.Last
		switch {
		case rec.Seq > last.Seq+1:
			return &gapError{line: v.line, seq: rec.Seq, from: last.Seq + 1, to: rec.Seq - 1}
		case rec.Seq <= last.Seq:
			return v.fail(KindInserted, fmt.Sprintf("seq %d follows seq %d: a record inserted or repeated", rec.Seq, last.Seq))
		case rec.Action == ActionRotated:
			return v.fail(KindChain, "a rotation record inside a file: only a file's first record may be one")
		case rec.Prev != last.Hash:
			return v.fail(KindChain, fmt.Sprintf("seq %d: prev does not match line %d (a line before was edited, inserted or removed)", rec.Seq, v.line-1))
		}
	}
	switch rec.Action {
	case ActionRotated:
		v.rep.Rotations++
	case ActionRecovered:
		v.rep.Recovered++
	}
	v.rep.Records++
	v.rep.Last = Link{Seq: rec.Seq, Hash: lineHash(line)}
	v.rep.LastTime = t
	return nil
}

func (v *verifier) checkStart(rec *Record) error {
	if rec.Action == ActionRotated && rec.Detail["previous_hash"] != rec.Prev {
		return v.fail(KindChain, fmt.Sprintf("seq %d: rotation record's prev differs from its previous_hash", rec.Seq))
	}
	if a := v.opts.After; a != nil {
		switch {
		case rec.Seq != a.Seq+1:
			return v.fail(KindStart, fmt.Sprintf("file starts at seq %d, the previous file ended at seq %d (files out of order, or records missing)", rec.Seq, a.Seq))
		case rec.Prev != a.Hash:
			return v.fail(KindChain, fmt.Sprintf("seq %d: prev does not match the previous file's last line", rec.Seq))
		case rec.Action != ActionRotated:
			return v.fail(KindStart, fmt.Sprintf("seq %d: a file after the first must start with a rotation record", rec.Seq))
		}
		return nil
	}
	switch {
	case rec.Seq == 1 && rec.Prev != GenesisPrev:
		return v.fail(KindChain, "seq 1: prev is not the genesis value")
	case rec.Seq == 1:
	case rec.Action == ActionRotated:
		v.rep.ContinuesFrom = rec.Detail["previous_file"]
	default:
		return v.fail(KindStart, fmt.Sprintf("starts at seq %d without a rotation record: the records before it were removed", rec.Seq))
	}
	return nil
}

// gapError is a sequence gap before it is classified as removed records or
// records moved further down.
type gapError struct {
	line          int
	seq, from, to uint64
}

func (g *gapError) Error() string { return fmt.Sprintf("line %d: seq gap", g.line) }

// maxLookahead bounds how many lines classifyGap reads.
const maxLookahead = 10000

// classifyGap reads on to see whether a missing seq appears further down
// (reordered) or not at all (removed).
func (v *verifier) classifyGap(br *bufio.Reader, g *gapError) error {
	for n := g.line + 1; n <= g.line+maxLookahead; n++ {
		line, complete, err := readLine(br, v.opts.MaxLineBytes)
		if err != nil || line == nil || !complete {
			break
		}
		var head struct {
			Seq uint64 `json:"seq"`
		}
		if json.Unmarshal(line, &head) == nil && head.Seq >= g.from && head.Seq <= g.to {
			return &VerifyError{Line: g.line, Kind: KindReordered, Msg: fmt.Sprintf("seq %d follows seq %d; seq %d is at line %d: records out of order", g.seq, g.from-1, head.Seq, n)}
		}
	}
	return &VerifyError{Line: g.line, Kind: KindRemoved, Msg: fmt.Sprintf("seq %d follows seq %d: %s missing", g.seq, g.from-1, seqRange(g.from, g.to))}
}

func seqRange(from, to uint64) string {
	if from == to {
		return fmt.Sprintf("seq %d", from)
	}
	return fmt.Sprintf("seq %d-%d", from, to)
}
