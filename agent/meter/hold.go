package meter

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrUnavailable is returned (wrapped) by Ready when the journal cannot
// take records (a full disk, an I/O error). A request that would change
// data must then be refused before it is applied: its usage could not be
// recorded.
var ErrUnavailable = errors.New("meter: cannot record usage")

// errHeldLost: held usage the final window close could not write.
var errHeldLost = errors.New("meter: closed before the usage could be recorded")

// heldUsage is the usage of an applied request that the journal could not
// take (see RecordApplied).
type heldUsage struct {
	tenant string
	u      Usage
	done   chan struct{} // closed once recorded or lost
	err    error         // set before done is closed: nil once recorded
}

func (h *heldUsage) resolve(err error) {
	h.err = err
	close(h.done)
}

// withHeld returns usage plus the held usages (usage itself when there
// are none; it is not modified, as a failed close restores it).
func withHeld(usage map[string]Usage, held []*heldUsage) map[string]Usage {
	if len(held) == 0 {
		return usage
	}
	out := make(map[string]Usage, len(usage)+len(held))
	for t, u := range usage {
		out[t] = u
	}
	for _, h := range held {
		u := out[h.tenant]
		u.add(h.u)
		out[h.tenant] = u
	}
	return out
}

// Ready reports whether the meter can record usage now: nil, ErrClosed,
// or an error wrapping ErrUnavailable and the journal's failure. After a
// failed journal write (a full disk) it is not ready until a write
// succeeds again; each call while not ready retries the held usage (see
// RecordApplied), which probes the journal. The HTTP layer checks it
// before applying a write, so a meter that cannot record refuses writes
// instead of letting them be applied unbilled. Cheap when ready (one
// atomic load).
func (m *Meter) Ready() error {
	j := &m.jour
	if !j.failing.Load() {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.w == nil {
		return ErrClosed
	}
	if err := m.retryLocked(true); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// probeTenant names the zero-usage records Ready appends to test the
// journal; replay skips records without usage.
const probeTenant = "meter-probe"

// retryLocked moves away from a journal file a failed write may have torn
// and journals the held usage, oldest first; once all is journaled the
// meter is ready again. With probe and no usage held, it appends a record
// without usage instead, so that readiness is never claimed without a
// write that succeeded (creating a file can succeed on a full disk).
// Caller holds jour.mu, with the journal open.
func (m *Meter) retryLocked(probe bool) error {
	j := &m.jour
	if j.broken {
		if err := j.rotateLocked(); err != nil {
			return err
		}
	}
	if probe && len(j.held) == 0 {
		j.buf = appendJournalRecord(j.buf[:0], probeTenant, Usage{})
		if err := j.w.append(j.buf); err != nil {
			j.broken = true
			return err
		}
	}
	for len(j.held) > 0 {
		h := j.held[0]
		j.buf = appendJournalRecord(j.buf[:0], h.tenant, h.u)
		if err := j.w.append(j.buf); err != nil {
			j.broken = true
			return err
		}
		m.counts.add(h.tenant, h.u)
		j.held[0] = nil
		j.held = j.held[1:]
		h.resolve(nil)
	}
	j.failing.Store(false)
	return nil
}

// wroteLocked follows a successful journal write: if the meter was
// failing, the journal takes records again, so the held usage is
// journaled too (and the meter is ready once none is left). Caller holds
// jour.mu.
func (m *Meter) wroteLocked() {
	j := &m.jour
	if !j.failing.Load() {
		return
	}
	if len(j.held) == 0 {
		j.failing.Store(false)
		return
	}
	_ = m.retryLocked(false)
}

// heldCount returns the number of held usages.
func (j *journal) heldCount() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.held)
}

// RecordApplied records the usage of a request whose effect is already
// applied (a write that succeeded), which must not go unbilled. It is
// Record, except when the journal write fails (a full disk): u is then
// held in memory and RecordApplied waits until it is recorded, either
// journaled (retried with backoff, at each Ready and after each
// successful Record) or written to the outbox by a window close (whose
// bbolt file may still have room). It returns nil once u is recorded, so
// the caller answers the request only then; ErrClosed (wrapped) if the
// meter is not open or closed before u could be recorded (logged as
// lost); or ctx's error (wrapped) if ctx ended first, in which case u
// stays held and is recorded later, as long as the process lives.
func (m *Meter) RecordApplied(ctx context.Context, tenant string, u Usage) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	j := &m.jour
	j.mu.Lock()
	if j.w == nil {
		j.mu.Unlock()
		return ErrClosed
	}
	if u.IsZero() {
		j.mu.Unlock()
		return nil
	}
	j.buf = appendJournalRecord(j.buf[:0], tenant, u)
	werr := j.writeLocked(j.buf)
	if werr == nil {
		m.counts.add(tenant, u)
		m.wroteLocked()
		j.mu.Unlock()
		return nil
	}
	h := &heldUsage{tenant: tenant, u: u, done: make(chan struct{})}
	j.held = append(j.held, h)
	j.failing.Store(true)
	j.mu.Unlock()
	m.log.Error("journal write failed: the usage of an applied request is held in memory until it can be recorded, and its answer waits",
		"tenant", tenant, "writes", u.Writes, "err", werr)
	// Closing: Close's last window close takes h (it was held while the
	// journal was open) and records or reports it; a nil channel if the
	// meter is already past that point (h is then resolved).
	_, closed, _ := m.outbox()

	for attempt := 1; ; attempt++ {
		wait := time.NewTimer(m.backoff(attempt))
		select {
		case <-h.done:
			wait.Stop()
			if h.err != nil {
				return fmt.Errorf("%w: %w", ErrClosed, h.err)
			}
			return nil
		case <-ctx.Done():
			wait.Stop()
			return fmt.Errorf("meter: usage held, recorded later: %w", ctx.Err())
		case <-closed:
			// Close's last window close records or reports it.
			wait.Stop()
			select {
			case <-h.done:
				if h.err != nil {
					return fmt.Errorf("%w: %w", ErrClosed, h.err)
				}
				return nil
			case <-ctx.Done():
				return fmt.Errorf("meter: usage held, recorded later: %w", ctx.Err())
			}
		case <-wait.C:
			j.mu.Lock()
			if j.w != nil {
				_ = m.retryLocked(false)
			}
			j.mu.Unlock()
		}
	}
}

// commitHeld writes the held usage alone to the outbox, as records of the
// window [winStart, end): the way out for it when the journal cannot even
// start a new file (a full disk fails the window close's rotation), while
// the outbox may still have free pages. The window is not closed (the
// counters and the storage integral stay), so a later record of the same
// window holds the rest of its usage; billing adds both. Caller holds
// winMu.
func (m *Meter) commitHeld(box *outbox, end time.Time) error {
	j := &m.jour
	j.mu.Lock()
	held := j.held
	j.held = nil
	j.mu.Unlock()
	if len(held) == 0 {
		return nil
	}
	recs := windowRecords(m.winStart, end, withHeld(nil, held), nil)
	if _, err := box.commit(recs, 0); err != nil {
		j.requeue(nil, held)
		return err
	}
	for _, h := range held {
		h.resolve(nil)
	}
	m.kick()
	return nil
}
