package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/meter"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// deadLetterMeter is what the dead-letter routes need of Config.Meter;
// *meter.Meter implements it. A Meter without it (or no Meter: an
// unmanaged agent) answers them 404 not_managed.
type deadLetterMeter interface {
	DeadLetters() ([]meter.DeadLetter, error)
	ReplayDeadLetters(ctx context.Context, o meter.ReplayOptions) ([]meter.Replayed, error)
}

var _ deadLetterMeter = (*meter.Meter)(nil)

// ActionDeadLetterReplay records a replay of this node's dead-lettered
// usage records (they are then billed).
const ActionDeadLetterReplay = "meter.dead_letters.replay"

// maxReplaySeqs bounds the sequence numbers of one replay request.
const maxReplaySeqs = 10000

func (s *Server) deadLetterMeter() (deadLetterMeter, error) {
	if dm, ok := s.cfg.Meter.(deadLetterMeter); ok {
		return dm, nil
	}
	return nil, jsonapi.Errorf(http.StatusNotFound, CodeNotManaged, "this agent meters no usage (it is not enrolled with billing), so it has no dead letters")
}

// deadLetterJSON is one dead letter as GET /api/v1/admin/meter/dead-letters
// shows it.
type deadLetterJSON struct {
	Seq                uint64    `json:"seq"`
	Tenant             string    `json:"tenant_id"`
	Start              time.Time `json:"start"`
	End                time.Time `json:"end"`
	Reads              uint64    `json:"reads"`
	Writes             uint64    `json:"writes"`
	Queries            uint64    `json:"queries"`
	QueryComputeMs     uint64    `json:"query_compute_ms"`
	IngressBytes       uint64    `json:"ingress_bytes"`
	EgressBytes        uint64    `json:"egress_bytes"`
	StorageByteSeconds uint64    `json:"storage_byte_seconds"`
	Reason             string    `json:"reason"`
	At                 time.Time `json:"dead_lettered_at"`
}

// deadLetters: GET /api/v1/admin/meter/dead-letters (cluster admin): this
// node's usage records billing rejected for good, oldest first, with the
// reasons. Each node keeps its own.
func (s *Server) deadLetters(w http.ResponseWriter, _ *http.Request, _ auth.Principal) error {
	dm, err := s.deadLetterMeter()
	if err != nil {
		return err
	}
	dl, err := dm.DeadLetters()
	if err != nil {
		return meterAdminError(err)
	}
	out := make([]deadLetterJSON, 0, len(dl))
	for _, d := range dl {
		out = append(out, deadLetterJSON{Seq: d.Seq, Tenant: d.Tenant, Start: d.Start, End: d.End, Reads: d.Reads, Writes: d.Writes,
			Queries: d.Queries, QueryComputeMs: d.QueryComputeMs, IngressBytes: d.IngressBytes, EgressBytes: d.EgressBytes,
			StorageByteSeconds: d.StorageByteSeconds, Reason: d.Reason, At: d.At})
	}
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"dead_letters": out})
	return nil
}

// replayBody is the body of POST /api/v1/admin/meter/dead-letters/replay:
// the dead letters to replay (seqs, or all) and whether to restamp their
// windows to end now.
type replayBody struct {
	Seqs    []uint64 `json:"seqs"`
	All     bool     `json:"all"`
	Restamp bool     `json:"restamp"`
}

// decodeReplay decodes a replay body: exactly one of "seqs" (1 to
// maxReplaySeqs sequence numbers, each at least 1) and "all": true, and
// an optional "restamp". Errors are 400s naming the field.
func decodeReplay(r io.Reader) (meter.ReplayOptions, error) {
	var b replayBody
	if err := decodeStrict(r, &b); err != nil {
		return meter.ReplayOptions{}, err
	}
	switch {
	case b.All && len(b.Seqs) > 0:
		return meter.ReplayOptions{}, jsonapi.Invalid("seqs: give either seqs or \"all\": true, not both")
	case !b.All && len(b.Seqs) == 0:
		return meter.ReplayOptions{}, jsonapi.Invalid("seqs: required: the sequence numbers of the dead letters to replay, or \"all\": true")
	case len(b.Seqs) > maxReplaySeqs:
		return meter.ReplayOptions{}, jsonapi.Invalid("seqs: %d sequence numbers, more than %d", len(b.Seqs), maxReplaySeqs)
	}
	for i, s := range b.Seqs {
		if s == 0 {
			return meter.ReplayOptions{}, jsonapi.Invalid("seqs[%d]: 0 is no sequence number (they start at 1)", i)
		}
	}
	return meter.ReplayOptions{Seqs: b.Seqs, Restamp: b.Restamp}, nil
}

// replayedJSON is one replayed dead letter.
type replayedJSON struct {
	Seq    uint64    `json:"seq"`
	NewSeq uint64    `json:"new_seq"`
	Tenant string    `json:"tenant_id"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

// replayDeadLetters: POST /api/v1/admin/meter/dead-letters/replay
// (cluster admin; audited). Once the cause of a rejection is fixed, the
// dead letters go back into this node's outbox under new sequence numbers
// (billing consumed the rejected ones) and are sent at once; each is
// billed at most once (see meter.ReplayDeadLetters).
func (s *Server) replayDeadLetters(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
	dm, err := s.deadLetterMeter()
	if err != nil {
		return err
	}
	o, err := decodeReplay(r.Body)
	if err != nil {
		return err
	}
	rep, err := dm.ReplayDeadLetters(r.Context(), o)
	if err != nil {
		return meterAdminError(err)
	}
	out := make([]replayedJSON, 0, len(rep))
	for _, x := range rep {
		out = append(out, replayedJSON{Seq: x.Seq, NewSeq: x.NewSeq, Tenant: x.Tenant, Start: x.Start, End: x.End})
	}
	noteOf(r).Set("", "replayed", strconv.Itoa(len(out)), "restamp", strconv.FormatBool(o.Restamp))
	jsonapi.WriteJSON(w, http.StatusOK, map[string]any{"replayed": out})
	return nil
}

// meterAdminError translates the meter's errors.
func meterAdminError(err error) error {
	switch {
	case errors.Is(err, meter.ErrNoDeadLetter):
		return jsonapi.Errorf(http.StatusNotFound, jsonapi.CodeNotFound, "%s", err.Error())
	case errors.Is(err, meter.ErrCorrupt):
		return jsonapi.Errorf(http.StatusConflict, jsonapi.CodeConflict, "%s", err.Error())
	case errors.Is(err, meter.ErrClosed):
		return jsonapi.Errorf(http.StatusServiceUnavailable, jsonapi.CodeUnavailable, "the meter is not open (the agent is starting or stopping); retry")
	}
	return err
}
