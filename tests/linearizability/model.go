// Package linearizability checks that Aerolith's document API is
// linearizable: concurrent clients run get, put and conditional put
// (If-Match) against random nodes of a 3-node cluster of real agent
// processes while the leader is SIGKILLed and restarted, or frozen
// (SIGSTOP) or partitioned from both followers while half of the clients
// keep sending to it (TestLinearizableUnderLeaderPausesAndPartitions; the
// package's tests build the agent with the faults tag), every operation is
// recorded with its invocation and response time, and porcupine
// (github.com/anishathalye/porcupine) checks the history against a
// sequential model: one versioned register per document.
//
// Operations whose outcome is unknown (timeout, broken connection, 5xx after
// the request was sent) are kept in the history with an infinite return
// time, as porcupine requires: the checker may then place them anywhere after
// their invocation, which also covers "never happened". Only requests that
// provably never reached a server (connection refused at dial) are dropped.
package linearizability

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"
)

// Kind is the operation a client ran.
type Kind uint8

// The operations of the model.
const (
	// Get reads a document: Output.Found, Value and Version.
	Get Kind = iota
	// Put upserts a document unconditionally: Output.Version is the new version.
	Put
	// CAS is a conditional put (If-Match: Input.IfVersion): it succeeds with
	// Output.Version = IfVersion+1 iff the document's version is IfVersion,
	// otherwise it is rejected (HTTP 412) and changes nothing.
	CAS
)

func (k Kind) String() string {
	switch k {
	case Get:
		return "get"
	case Put:
		return "put"
	case CAS:
		return "cas"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Input is an operation's invocation.
type Input struct {
	Kind      Kind
	Key       string
	Value     string // Put, CAS: the value written
	IfVersion uint64 // CAS: the version the document must have
}

// Output is an operation's response.
type Output struct {
	// Unknown marks a write whose outcome is unknown; its Return time must
	// be Infinity.
	Unknown bool
	// Found reports, for Get, whether the document exists.
	Found bool
	// Value is the value Get read.
	Value string
	// Version is the version Get read, or the new version a successful Put
	// or CAS returned.
	Version uint64
	// Rejected marks a CAS refused with 412 precondition failed.
	Rejected bool
}

// state is one register: Version 0 means the document does not exist.
type state struct {
	Value   string
	Version uint64
}

// Infinity is the return time of operations whose outcome is unknown.
const Infinity int64 = math.MaxInt64

// Model returns the porcupine model: an independent versioned register per
// key, versions starting at 1 and incremented by every successful write.
func Model() porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			byKey := map[string][]porcupine.Operation{}
			for _, op := range history {
				k := op.Input.(Input).Key
				byKey[k] = append(byKey[k], op)
			}
			keys := make([]string, 0, len(byKey))
			for k := range byKey {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			out := make([][]porcupine.Operation, 0, len(keys))
			for _, k := range keys {
				out = append(out, byKey[k])
			}
			return out
		},
		Init: func() interface{} { return state{} },
		Step: func(st, in, out interface{}) (bool, interface{}) {
			return step(st.(state), in.(Input), out.(Output))
		},
		Equal: func(a, b interface{}) bool { return a.(state) == b.(state) },
		DescribeOperation: func(in, out interface{}) string {
			return describe(in.(Input), out.(Output))
		},
		DescribeState: func(st interface{}) string {
			s := st.(state)
			if s.Version == 0 {
				return "absent"
			}
			return fmt.Sprintf("v%d %q", s.Version, s.Value)
		},
	}
}

func step(s state, in Input, out Output) (bool, state) {
	switch in.Kind {
	case Get:
		if !out.Found {
			return s.Version == 0, s
		}
		return s.Version == out.Version && s.Value == out.Value, s
	case Put:
		next := state{Value: in.Value, Version: s.Version + 1}
		if out.Unknown {
			return true, next
		}
		return out.Version == next.Version, next
	case CAS:
		match := s.Version == in.IfVersion
		next := s
		if match {
			next = state{Value: in.Value, Version: s.Version + 1}
		}
		switch {
		case out.Unknown:
			return true, next
		case out.Rejected:
			return !match, s
		default:
			return match && out.Version == next.Version, next
		}
	}
	return false, s
}

func describe(in Input, out Output) string {
	var res string
	switch {
	case out.Unknown:
		res = "unknown"
	case in.Kind == Get && !out.Found:
		res = "absent"
	case in.Kind == Get:
		res = fmt.Sprintf("v%d %q", out.Version, out.Value)
	case out.Rejected:
		res = "412"
	default:
		res = fmt.Sprintf("v%d", out.Version)
	}
	switch in.Kind {
	case Put:
		return fmt.Sprintf("put(%s, %q) -> %s", in.Key, in.Value, res)
	case CAS:
		return fmt.Sprintf("cas(%s, if v%d, %q) -> %s", in.Key, in.IfVersion, in.Value, res)
	}
	return fmt.Sprintf("get(%s) -> %s", in.Key, res)
}

// Recorder collects a concurrent history. Timestamps come from one
// monotonic clock started by NewRecorder. Safe for concurrent use.
type Recorder struct {
	start   time.Time
	mu      sync.Mutex
	ops     []porcupine.Operation
	clients atomic.Int64
}

// NewRecorder returns an empty recorder whose clock starts now.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// Now returns the recorder's clock in nanoseconds.
func (r *Recorder) Now() int64 { return int64(time.Since(r.start)) }

// NewClient returns a fresh client id. A client whose operation ended with
// an unknown outcome takes a new id, since that operation never returns.
func (r *Recorder) NewClient() int { return int(r.clients.Add(1) - 1) }

// Add records an operation. Unknown outputs get Return = Infinity.
func (r *Recorder) Add(client int, in Input, call int64, out Output, ret int64) {
	if out.Unknown {
		ret = Infinity
	}
	r.mu.Lock()
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	r.mu.Unlock()
}

// History returns a copy of the recorded operations.
func (r *Recorder) History() []porcupine.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]porcupine.Operation(nil), r.ops...)
}

// Summary counts the recorded operations by kind and outcome, e.g.
// "get ok=120 absent=4; put ok=80 unknown=2; cas ok=30 rejected=12".
func Summary(history []porcupine.Operation) string {
	type counts struct{ ok, absent, unknown, rejected int }
	var c [3]counts
	for _, op := range history {
		in, out := op.Input.(Input), op.Output.(Output)
		k := &c[in.Kind]
		switch {
		case out.Unknown:
			k.unknown++
		case out.Rejected:
			k.rejected++
		case in.Kind == Get && !out.Found:
			k.absent++
		default:
			k.ok++
		}
	}
	parts := []string{
		fmt.Sprintf("get ok=%d absent=%d", c[Get].ok, c[Get].absent),
		fmt.Sprintf("put ok=%d unknown=%d", c[Put].ok, c[Put].unknown),
		fmt.Sprintf("cas ok=%d rejected=%d unknown=%d", c[CAS].ok, c[CAS].rejected, c[CAS].unknown),
	}
	return strings.Join(parts, "; ")
}
