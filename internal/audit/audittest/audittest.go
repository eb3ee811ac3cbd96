// Package audittest provides an in-memory audit.Auditor for tests of the
// components that record audit events.
package audittest

import (
	"context"
	"slices"
	"sync"

	"github.com/aerolithdb/aerolith/internal/audit"
)

// Recorder keeps every event appended to it, in order. It is safe for
// concurrent use. Err, when set, is returned by Append (the event is then
// not kept), to test how a component handles an audit failure.
type Recorder struct {
	mu     sync.Mutex
	events []audit.Event
	Err    error
}

var _ audit.Auditor = (*Recorder)(nil)

// Append keeps e, or returns r.Err.
func (r *Recorder) Append(_ context.Context, e audit.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Err != nil {
		return r.Err
	}
	e.Detail = cloneMap(e.Detail)
	r.events = append(r.events, e)
	return nil
}

// Events returns a copy of the events kept so far.
func (r *Recorder) Events() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Actions returns the events kept with this action.
func (r *Recorder) Actions(action string) []audit.Event {
	var out []audit.Event
	for _, e := range r.Events() {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
