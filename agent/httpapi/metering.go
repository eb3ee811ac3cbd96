package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/meter"
	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// serveTenant serves a request of a tenant principal when the agent
// governs or meters (Config.Governor or Config.Meter set): the quota
// checks, the handler, then the usage is recorded before the answer is
// written (see the package comment for the metering rule).
func (s *Server) serveTenant(w http.ResponseWriter, r *http.Request, rt route, p auth.Principal) {
	// The handlers find st through the writer they are given (stateOf):
	// a request copy with it in the context would cost an allocation
	// per request.
	st := &reqState{tenant: p.Tenant, kind: rt.kind}
	var out stateCarrier
	var buf *bufferedResponse
	var body *countingBody
	if s.cfg.Meter != nil {
		buf = newBufferedResponse(w, st)
		defer buf.free()
		out = buf
		if r.Body != nil && r.Body != http.NoBody {
			body = &countingBody{rc: r.Body}
			r.Body = body
		}
	} else {
		out = &stateResponse{w, st}
	}
	release := noRelease
	if s.cfg.Governor != nil {
		var ok bool
		if release, ok = s.govern(out, r, p, st); !ok {
			if buf != nil {
				buf.flush(w) // a refusal is not metered
			}
			return
		}
	}
	defer release()
	if buf != nil && rt.kind == kindWrite {
		// A write is applied before its usage is recorded: refuse it
		// while the meter cannot record (a full disk), rather than apply
		// it unbilled.
		if err := s.cfg.Meter.Ready(); err != nil {
			s.log.Error("metering unavailable; refusing a write before applying it", "tenant", p.Tenant, "route", rt.pattern, "err", err)
			errorWriter().WriteError(w, errMeterUnready)
			return
		}
	}
	if err := rt.h(out, r, p); err != nil {
		if e := s.fail(out, r, err); e.Quota {
			st.refused = true
			s.auditQuota(r, p, e.Code, e.Status)
		}
	}
	if buf == nil {
		return
	}
	if buf.status < http.StatusInternalServerError && !st.refused {
		u := usage(r, st, body, buf)
		var err error
		if st.kind == kindWrite && buf.status < http.StatusMultipleChoices {
			// Applied: its usage is kept until recorded, and the answer
			// waits for it (see meter.RecordApplied).
			err = s.cfg.Meter.RecordApplied(r.Context(), p.Tenant, u)
		} else {
			err = s.cfg.Meter.Record(p.Tenant, u)
		}
		if err != nil {
			s.log.Error("metering failed; answering 503", "tenant", p.Tenant, "route", rt.pattern, "status", buf.status, "err", err)
			buf.withhold()
			errorWriter().WriteError(w, meterError(st.kind, buf.status))
			return
		}
	}
	buf.flush(w)
}

// errMeterUnready refuses a write, before it is applied, while the meter
// cannot record usage.
var errMeterUnready = &jsonapi.Error{Status: http.StatusServiceUnavailable, Code: jsonapi.CodeUnavailable, RetryAfter: time.Second,
	Message: "this node cannot record usage for billing right now, so it accepts no writes; nothing was applied; retry on another node"}

// meterError is the answer when a served request could not be recorded
// for billing. A write that succeeded was applied: the answer says so, as
// for a leader change during commit, so the client reads it back rather
// than blindly repeating it.
func meterError(k routeKind, status int) *jsonapi.Error {
	if k == kindWrite && status < http.StatusMultipleChoices {
		return jsonapi.Errorf(http.StatusServiceUnavailable, jsonapi.CodeUnavailable,
			"this node could not record the request for billing: the write was applied, but is reported as failed; "+
				"read it back before retrying, preferably on another node")
	}
	return jsonapi.Errorf(http.StatusServiceUnavailable, jsonapi.CodeUnavailable,
		"this node could not record the request for billing, so its answer is withheld; retry on another node")
}

// usage is what a served request is metered as.
func usage(r *http.Request, st *reqState, body *countingBody, buf *bufferedResponse) meter.Usage {
	var u meter.Usage
	switch st.kind {
	case kindRead:
		u.Reads = 1
	case kindWrite:
		u.Writes = 1
		if st.writes > 0 {
			u.Writes = uint64(st.writes)
		}
	case kindQuery:
		u.Queries = 1
		u.QueryComputeMs = ceilMillis(st.query)
	}
	if body != nil {
		u.IngressBytes = uint64(body.n)
	}
	if r.Method != http.MethodHead {
		u.EgressBytes = uint64(buf.body.Len())
	}
	return u
}

// ceilMillis returns d in milliseconds, rounded up.
func ceilMillis(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64((d + time.Millisecond - 1) / time.Millisecond)
}

// countingBody counts the request body bytes read.
type countingBody struct {
	rc io.ReadCloser
	n  int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingBody) Close() error { return c.rc.Close() }

// bufferedResponse holds an answer until it is metered: the status and
// the body wait; the header fields go straight into the real writer's
// header (nothing is sent before WriteHeader), so flushing copies no map.
// withhold puts that header back as it was before the handler ran.
type bufferedResponse struct {
	w      http.ResponseWriter
	st     *reqState   // the request's state (stateOf)
	pre    http.Header // w's header fields before the handler ran
	status int
	wrote  bool
	body   bytes.Buffer
}

var bufferedPool = sync.Pool{New: func() any { return new(bufferedResponse) }}

// maxPooledBody bounds the buffers kept for reuse.
const maxPooledBody = 64 << 10

func newBufferedResponse(w http.ResponseWriter, st *reqState) *bufferedResponse {
	b := bufferedPool.Get().(*bufferedResponse)
	b.w, b.st, b.status, b.wrote = w, st, http.StatusOK, false
	b.body.Reset()
	if h := w.Header(); len(h) > 0 {
		b.pre = h.Clone()
	}
	return b
}

func (b *bufferedResponse) state() *reqState { return b.st }

// Header implements http.ResponseWriter: the real writer's header.
func (b *bufferedResponse) Header() http.Header { return b.w.Header() }

// WriteHeader implements http.ResponseWriter; the first call wins.
func (b *bufferedResponse) WriteHeader(code int) {
	if b.wrote {
		return
	}
	b.status, b.wrote = code, true
}

// Write implements http.ResponseWriter.
func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}

// flush writes the held answer to the real writer.
func (b *bufferedResponse) flush(w http.ResponseWriter) {
	w.WriteHeader(b.status)
	if b.body.Len() > 0 {
		_, _ = w.Write(b.body.Bytes()) // the client may be gone; nothing to do about it
	}
}

// withhold drops the handler's answer: the real writer's header is put
// back as it was before the handler ran (no ETag or Location of an answer
// that is not given), for another answer to be written instead.
func (b *bufferedResponse) withhold() {
	h := b.w.Header()
	clear(h)
	for k, v := range b.pre {
		h[k] = v
	}
}

// free returns b to the pool (keeping a body buffer of a usual size).
func (b *bufferedResponse) free() {
	b.w, b.st, b.pre = nil, nil, nil
	if b.body.Cap() > maxPooledBody {
		return
	}
	bufferedPool.Put(b)
}
