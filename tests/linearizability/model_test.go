package linearizability

import (
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

// op builds an operation; ret < 0 means unknown outcome.
func op(client int, in Input, call int64, out Output, ret int64) porcupine.Operation {
	if out.Unknown {
		ret = Infinity
	}
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

func put(k, v string) Input { return Input{Kind: Put, Key: k, Value: v} }
func cas(k string, ifv uint64, v string) Input {
	return Input{Kind: CAS, Key: k, Value: v, IfVersion: ifv}
}
func get(k string) Input             { return Input{Kind: Get, Key: k} }
func ver(v uint64) Output            { return Output{Version: v} }
func read(v string, n uint64) Output { return Output{Found: true, Value: v, Version: n} }

var (
	absent   = Output{}
	unknown  = Output{Unknown: true}
	rejected = Output{Rejected: true}
)

func TestModel(t *testing.T) {
	tests := []struct {
		name    string
		history []porcupine.Operation
		want    bool
	}{
		{"empty history", nil, true},
		{"sequential put then get", []porcupine.Operation{
			op(0, put("x", "a"), 0, ver(1), 10),
			op(0, get("x"), 20, read("a", 1), 30),
		}, true},
		{"read of a missing key", []porcupine.Operation{
			op(0, get("x"), 0, absent, 10),
		}, true},
		{"stale read after a newer acknowledged put", []porcupine.Operation{
			op(0, put("x", "a"), 0, ver(1), 10),
			op(0, put("x", "b"), 20, ver(2), 30),
			op(1, get("x"), 40, read("a", 1), 50),
		}, false},
		{"concurrent read may see the old or the new value", []porcupine.Operation{
			op(0, put("x", "a"), 0, ver(1), 10),
			op(0, put("x", "b"), 20, ver(2), 30),
			op(1, get("x"), 15, read("a", 1), 50),
			op(2, get("x"), 15, read("b", 2), 50),
		}, true},
		{"lost acknowledged write", []porcupine.Operation{
			op(0, put("x", "a"), 0, ver(1), 10),
			op(1, get("x"), 20, absent, 30),
		}, false},
		{"two sequential puts both at version 1", []porcupine.Operation{
			op(0, put("x", "a"), 0, ver(1), 10),
			op(1, put("x", "b"), 20, ver(1), 30),
		}, false},
		{"value and version must match", []porcupine.Operation{
			op(0, put("x", "a"), 0, ver(1), 10),
			op(0, put("x", "b"), 20, ver(2), 30),
			op(1, get("x"), 40, read("a", 2), 50),
		}, false},
		{"unknown put observed later", []porcupine.Operation{
			op(0, put("x", "a"), 0, unknown, -1),
			op(1, get("x"), 100, read("a", 1), 110),
		}, true},
		{"unknown put never observed", []porcupine.Operation{
			op(0, put("x", "a"), 0, unknown, -1),
			op(1, get("x"), 100, absent, 110),
			op(1, put("x", "b"), 120, ver(1), 130),
			op(1, get("x"), 140, read("b", 1), 150),
		}, true},
		{"unknown put observed, then unobserved", []porcupine.Operation{
			op(0, put("x", "a"), 0, unknown, -1),
			op(1, get("x"), 100, read("a", 1), 110),
			op(1, get("x"), 120, absent, 130),
		}, false},
		{"unknown put cannot take effect before its call", []porcupine.Operation{
			op(1, get("x"), 0, read("a", 1), 10),
			op(0, put("x", "a"), 20, unknown, -1),
		}, false},
		{"cas succeeds on matching version", []porcupine.Operation{
			op(0, put("x", "a"), 0, ver(1), 10),
			op(0, cas("x", 1, "b"), 20, ver(2), 30),
			op(0, get("x"), 40, read("b", 2), 50),
		}, true},
		{"cas rejected although version matched", []porcupine.Operation{
			op(0, put("x", "a"), 0, ver(1), 10),
			op(0, cas("x", 1, "b"), 20, rejected, 30),
		}, false},
		{"cas succeeded on a stale version", []porcupine.Operation{
			op(0, put("x", "a"), 0, ver(1), 10),
			op(0, put("x", "b"), 20, ver(2), 30),
			op(1, cas("x", 1, "c"), 40, ver(2), 50),
		}, false},
		{"cas on a missing document is rejected", []porcupine.Operation{
			op(0, cas("x", 1, "a"), 0, rejected, 10),
			op(0, get("x"), 20, absent, 30),
		}, true},
		{"concurrent cas race: one wins, one is rejected", []porcupine.Operation{
			op(0, put("x", "a"), 0, ver(1), 10),
			op(1, cas("x", 1, "b"), 20, ver(2), 40),
			op(2, cas("x", 1, "c"), 20, rejected, 40),
			op(0, get("x"), 50, read("b", 2), 60),
		}, true},
		{"concurrent cas race: both win", []porcupine.Operation{
			op(0, put("x", "a"), 0, ver(1), 10),
			op(1, cas("x", 1, "b"), 20, ver(2), 40),
			op(2, cas("x", 1, "c"), 20, ver(2), 40),
		}, false},
		{"unknown cas applied", []porcupine.Operation{
			op(0, put("x", "a"), 0, ver(1), 10),
			op(1, cas("x", 1, "b"), 20, unknown, -1),
			op(0, get("x"), 50, read("b", 2), 60),
		}, true},
		{"unknown cas with a stale version cannot apply", []porcupine.Operation{
			op(0, put("x", "a"), 0, ver(1), 10),
			op(0, put("x", "b"), 12, ver(2), 14),
			op(1, cas("x", 1, "c"), 20, unknown, -1),
			op(0, get("x"), 50, read("c", 3), 60),
		}, false},
		{"keys are independent", []porcupine.Operation{
			op(0, put("x", "a"), 0, ver(1), 10),
			op(1, put("y", "b"), 0, ver(1), 10),
			op(0, get("y"), 20, read("b", 1), 30),
			op(1, get("x"), 20, read("a", 1), 30),
		}, true},
		{"violation on one key among several", []porcupine.Operation{
			op(0, put("x", "a"), 0, ver(1), 10),
			op(1, put("y", "b"), 0, ver(1), 10),
			op(0, get("y"), 20, read("b", 1), 30),
			op(1, get("x"), 20, absent, 30),
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := porcupine.CheckOperations(Model(), tt.history)
			if got != tt.want {
				t.Errorf("CheckOperations = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRecorderMarksUnknownInfinite(t *testing.T) {
	r := NewRecorder()
	a, b := r.NewClient(), r.NewClient()
	if a == b {
		t.Fatalf("NewClient returned %d twice", a)
	}
	r.Add(a, put("x", "v"), r.Now(), unknown, r.Now())
	r.Add(b, get("x"), r.Now(), absent, r.Now())
	h := r.History()
	if len(h) != 2 {
		t.Fatalf("History has %d ops, want 2", len(h))
	}
	if h[0].Return != Infinity {
		t.Errorf("unknown op Return = %d, want Infinity", h[0].Return)
	}
	if h[1].Return == Infinity || h[1].Return < h[1].Call {
		t.Errorf("known op Return = %d, Call = %d", h[1].Return, h[1].Call)
	}
	if s := Summary(h); !strings.Contains(s, "put ok=0 unknown=1") || !strings.Contains(s, "get ok=0 absent=1") {
		t.Errorf("Summary = %q", s)
	}
}

func TestDescribeOperation(t *testing.T) {
	m := Model()
	tests := []struct {
		in   Input
		out  Output
		want string
	}{
		{put("k", "a"), ver(3), `put(k, "a") -> v3`},
		{cas("k", 2, "b"), rejected, `cas(k, if v2, "b") -> 412`},
		{cas("k", 2, "b"), unknown, `cas(k, if v2, "b") -> unknown`},
		{get("k"), read("a", 1), `get(k) -> v1 "a"`},
		{get("k"), absent, `get(k) -> absent`},
	}
	for _, tt := range tests {
		if got := m.DescribeOperation(tt.in, tt.out); got != tt.want {
			t.Errorf("DescribeOperation(%+v, %+v) = %q, want %q", tt.in, tt.out, got, tt.want)
		}
	}
}
