package audit

import (
	"context"
	"net"
	"net/http"

	"github.com/aerolithdb/aerolith/internal/jsonapi"
)

// Note is what an audited HTTP handler adds to its request's record: the
// target, when only the handler knows it (a new key's id), detail entries,
// and Skip to drop the record of a routine success.
type Note struct {
	Target string
	Detail map[string]string
	Skip   bool
}

type noteKey struct{}

// NoteOf returns the Note ServeRoute put in ctx, or a throwaway one outside
// audited routes, so handlers may always write to it.
func NoteOf(ctx context.Context) *Note {
	if n, ok := ctx.Value(noteKey{}).(*Note); ok {
		return n
	}
	return &Note{}
}

// Set records the target (when not empty) and detail entries given as
// pairs of key and value.
func (n *Note) Set(target string, kv ...string) {
	if target != "" {
		n.Target = target
	}
	if len(kv) > 0 && n.Detail == nil {
		n.Detail = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		n.Detail[kv[i]] = kv[i+1]
	}
}

// ServeRoute runs next with a Note (Target preset to target) in the
// request's context and returns the event of its outcome: Target and
// Detail from the Note, Outcome from the status answered, Detail["status"]
// its text. The caller sets Actor and Action and records it, unless record
// is false (the handler set Skip and the request succeeded).
func ServeRoute(w http.ResponseWriter, r *http.Request, target string, next func(http.ResponseWriter, *http.Request)) (ev Event, record bool) {
	note := &Note{Target: target}
	rec := &jsonapi.StatusRecorder{ResponseWriter: w}
	next(rec, r.WithContext(context.WithValue(r.Context(), noteKey{}, note)))
	status := rec.Status
	if status == 0 {
		status = http.StatusOK
	}
	if note.Skip && status < http.StatusBadRequest {
		return Event{}, false
	}
	d := note.Detail
	if d == nil {
		d = map[string]string{}
	}
	d["status"] = http.StatusText(status)
	return Event{Target: note.Target, Outcome: OutcomeOf(status), Detail: d}, true
}

// RemoteHost is the request's remote IP without the port, so that the
// connections of one client share it (Actor.Addr).
func RemoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
