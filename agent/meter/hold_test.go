package meter

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

// breakJournal makes m's journal fail every append and every new file, as
// a full disk does; the returned func repairs it.
func breakJournal(m *Meter) (repair func()) {
	j := &m.jour
	j.mu.Lock()
	defer j.mu.Unlock()
	j.w = failWriter{j.w}
	j.create = func(string, uint64, bool) (journalWriter, error) {
		return nil, errors.New("injected: no space left on device")
	}
	return func() {
		j.mu.Lock()
		defer j.mu.Unlock()
		if fw, ok := j.w.(failWriter); ok {
			j.w = fw.journalWriter
		}
		j.create = nil
	}
}

// TestRecordAppliedHeldUntilJournaled: an applied request whose usage the
// journal cannot take is held, the meter reports it is not ready (the HTTP
// layer then refuses writes before applying them), and RecordApplied
// returns only once the journal took the usage again; it is billed once.
// Usage Record could not journal (a read, answered 503) is not counted.
func TestRecordAppliedHeldUntilJournaled(t *testing.T) {
	eachWriter(t, func(t *testing.T, dir string, snd *collectSender, m *Meter) {
		mustRecord(t, m, "a", Usage{Writes: 1})
		if err := m.Ready(); err != nil {
			t.Fatalf("Ready = %v", err)
		}
		repair := breakJournal(m)
		done := make(chan error, 1)
		go func() { done <- m.RecordApplied(t.Context(), "a", Usage{Writes: 10}) }()
		waitHeld(t, m, 1, done)
		if err := m.Ready(); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Ready with a failing journal = %v, want ErrUnavailable", err)
		}
		if err := m.Record("a", Usage{Reads: 100}); err == nil {
			t.Fatal("Record with a failing journal succeeded")
		}
		repair()
		if err := <-done; err != nil {
			t.Fatalf("RecordApplied = %v", err)
		}
		if err := m.Ready(); err != nil {
			t.Fatalf("Ready after repair = %v", err)
		}
		flush(t, m)
		if got := snd.total()["a"]; got.Writes != 11 || got.Reads != 0 {
			t.Fatalf("billed %+v, want 11 writes, no reads", got)
		}
	})
}

// TestHeldUsageCommittedByWindowClose: held usage whose caller went away
// (the client disconnected) is recorded by the next window close, which
// writes it to the outbox even while the journal cannot start a file.
func TestHeldUsageCommittedByWindowClose(t *testing.T) {
	eachWriter(t, func(t *testing.T, dir string, snd *collectSender, m *Meter) {
		repair := breakJournal(m)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- m.RecordApplied(ctx, "a", Usage{Writes: 7}) }()
		waitHeld(t, m, 1, done)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("RecordApplied after its context ended = %v", err)
		}
		// The close itself fails (the journal cannot start a new file),
		// but the held usage goes to the outbox alone.
		if err := CloseWindow(m); err == nil {
			t.Fatal("window close with a failing journal succeeded")
		}
		if st, _ := m.Stats(); st.Held != 0 || st.Pending != 1 {
			t.Fatalf("stats after the window close = %+v; want nothing held, 1 record pending", st)
		}
		repair()
		flush(t, m)
		if got := snd.total()["a"]; got.Writes != 7 {
			t.Fatalf("billed %+v, want 7 writes", got)
		}
	})
}

// waitHeld waits until m holds n usages; done reports a RecordApplied
// that returned instead (a failure).
func waitHeld(t *testing.T, m *Meter, n int, done <-chan error) {
	t.Helper()
	for {
		select {
		case err := <-done:
			t.Fatalf("RecordApplied returned %v with a failing journal", err)
		default:
		}
		m.jour.mu.Lock()
		got := len(m.jour.held)
		m.jour.mu.Unlock()
		if got == n {
			return
		}
		runtime.Gosched()
	}
}

// TestHeldUsageRecordedAtClose: usage still held when the meter closes
// (the agent shuts down while the disk is full) goes into the last
// window's outbox transaction; RecordApplied then returns nil, and the
// usage is billed after the next Open.
func TestHeldUsageRecordedAtClose(t *testing.T) {
	eachWriter(t, func(t *testing.T, dir string, snd *collectSender, m *Meter) {
		breakJournal(m)
		done := make(chan error, 1)
		go func() { done <- m.RecordApplied(t.Context(), "a", Usage{Writes: 3}) }()
		waitHeld(t, m, 1, done)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("RecordApplied across Close = %v", err)
		}
		m2 := newTestMeter(t, dir, snd, nil)
		if err := m2.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer m2.Close()
		flush(t, m2)
		if got := snd.total()["a"]; got.Writes != 3 {
			t.Fatalf("billed %+v, want 3 writes", got)
		}
	})
}
