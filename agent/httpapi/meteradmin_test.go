package httpapi

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/meter"
	"github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/audit/audittest"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// rejectingSender answers every record rejected for good while reject is
// set (billing with the tenant unassigned from the cluster), accepted
// otherwise, and keeps what it accepted.
type rejectingSender struct {
	mu       sync.Mutex
	reject   bool
	accepted []client.UsageRecord
}

func (s *rejectingSender) SendUsage(_ context.Context, recs []client.UsageRecord) (client.IngestResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var res client.IngestResult
	for _, r := range recs {
		if s.reject {
			res.Records = append(res.Records, client.RecordResult{Status: client.RecordRejected, Code: "permission_denied",
				Reason: "tenant_id: tenant \"alpha\" is not assigned to cluster \"c1\""})
			continue
		}
		s.accepted = append(s.accepted, r)
		res.Records = append(res.Records, client.RecordResult{Status: client.RecordAccepted})
	}
	return res, nil
}

// TestDeadLetterRoutes: a write whose usage billing rejects for good is a
// dead letter, listed by GET /api/v1/admin/meter/dead-letters (cluster
// admin key only); once the cause is fixed, POST .../replay sends it again
// under a new sequence number and it is billed, once.
func TestDeadLetterRoutes(t *testing.T) {
	snd := &rejectingSender{reject: true}
	m, err := meter.New(meter.Config{NodeID: "n1", DataDir: t.TempDir(), Window: time.Hour, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, snd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rec := &audittest.Recorder{}
	e := newManagedEnv(t, func(c *Config) { c.Meter = m; c.Audit = rec })
	flush := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := m.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const list, replay = "/api/v1/admin/meter/dead-letters", "/api/v1/admin/meter/dead-letters/replay"
	e.must(201, "PUT", "/api/v1/collections/c/documents/d", alphaRW, `{"data":{"a":1}}`)
	flush()

	e.must(403, "GET", list, alphaRW, "")
	var got struct {
		DeadLetters []struct {
			Seq    uint64 `json:"seq"`
			Tenant string `json:"tenant_id"`
			Writes uint64 `json:"writes"`
			Reason string `json:"reason"`
		} `json:"dead_letters"`
	}
	if err := json.Unmarshal(e.must(200, "GET", list, adminKey, "").Body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.DeadLetters) != 1 || got.DeadLetters[0].Tenant != "alpha" || got.DeadLetters[0].Writes != 1 || !strings.Contains(got.DeadLetters[0].Reason, "not assigned") {
		t.Fatalf("dead letters = %+v", got)
	}
	seq := got.DeadLetters[0].Seq

	for _, tt := range []struct {
		body   string
		status int
		msg    string
	}{
		{`{}`, 400, "seqs: required"},
		{`{"all":true,"seqs":[1]}`, 400, "not both"},
		{`{"seqs":[0]}`, 400, "seqs[0]"},
		{`{"seqs":[99]}`, 404, "no such dead letter"},
		{`{"seqs":"1"}`, 400, "seqs"},
	} {
		r := e.must(tt.status, "POST", replay, adminKey, tt.body)
		if _, msg := r.ErrCode(t); !strings.Contains(msg, tt.msg) {
			t.Errorf("replay %s = %d %q, want %q", tt.body, r.Status, msg, tt.msg)
		}
	}
	e.must(403, "POST", replay, alphaRW, `{"all":true}`)

	snd.mu.Lock()
	snd.reject = false // the tenant is assigned again
	snd.mu.Unlock()
	var rep struct {
		Replayed []struct {
			Seq    uint64 `json:"seq"`
			NewSeq uint64 `json:"new_seq"`
		} `json:"replayed"`
	}
	if err := json.Unmarshal(e.must(200, "POST", replay, adminKey, `{"all":true}`).Body, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Replayed) != 1 || rep.Replayed[0].Seq != seq || rep.Replayed[0].NewSeq <= seq {
		t.Fatalf("replayed = %+v", rep)
	}
	newSeq := rep.Replayed[0].NewSeq
	if ev := rec.Actions(ActionDeadLetterReplay); len(ev) == 0 || ev[len(ev)-1].Detail["replayed"] != "1" {
		t.Fatalf("replay audit records = %+v", ev)
	}
	flush()
	if err := json.Unmarshal(e.must(200, "GET", list, adminKey, "").Body, &got); err != nil || len(got.DeadLetters) != 0 {
		t.Fatalf("dead letters after the replay = %+v, %v", got, err)
	}
	if err := json.Unmarshal(e.must(200, "POST", replay, adminKey, `{"all":true}`).Body, &rep); err != nil || len(rep.Replayed) != 0 {
		t.Fatalf("second replay = %+v, %v", rep, err)
	}
	flush()
	snd.mu.Lock()
	defer snd.mu.Unlock()
	if len(snd.accepted) != 1 || snd.accepted[0].Writes != 1 || snd.accepted[0].Seq != newSeq {
		t.Fatalf("billed %+v, want the write once", snd.accepted)
	}
}

// TestDeadLetterRoutesUnmanaged: an agent that meters nothing answers 404
// not_managed.
func TestDeadLetterRoutesUnmanaged(t *testing.T) {
	e := newManagedEnv(t)
	r := e.must(404, "GET", "/api/v1/admin/meter/dead-letters", adminKey, "")
	if code, _ := r.ErrCode(t); code != CodeNotManaged {
		t.Fatalf("code = %s", code)
	}
}

// FuzzDecodeReplay: the replay body decoder never panics, and what it
// accepts is a valid selection.
func FuzzDecodeReplay(f *testing.F) {
	for _, s := range []string{`{"all":true}`, `{"seqs":[1,2,3],"restamp":true}`, `{}`, `{"seqs":[0]}`, `{"all":true,"seqs":[1]}`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := decodeReplay(strings.NewReader(string(b)))
		if err != nil {
			if _, ok := err.(*jsonapi.Error); !ok {
				t.Fatalf("error %T %v is not an API error", err, err)
			}
			return
		}
		if len(o.Seqs) > maxReplaySeqs {
			t.Fatalf("accepted %d seqs", len(o.Seqs))
		}
		for _, s := range o.Seqs {
			if s == 0 {
				t.Fatal("accepted seq 0")
			}
		}
	})
}
