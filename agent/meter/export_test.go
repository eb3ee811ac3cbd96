package meter

// Hooks for the external tests (package meter_test, which may import
// billing/service: that imports agent/httpapi, which imports this package).

// Crash stops m as a killed process would: goroutines gone, the journal
// and the outbox file closed, the current window's in-memory counters
// lost. What is on disk stays as it is.
func Crash(m *Meter) error {
	m.mu.Lock()
	box := m.box
	if box == nil {
		m.mu.Unlock()
		return ErrClosed
	}
	m.cancel()
	close(m.done)
	m.box = nil
	m.mu.Unlock()
	m.wg.Wait()
	m.counts.take()
	jerr := m.jour.drop()
	if err := box.close(); err != nil {
		return err
	}
	return jerr
}

// CloseWindow closes the current window now, as the window clock does.
func CloseWindow(m *Meter) error {
	box, _, err := m.outbox()
	if err != nil {
		return err
	}
	return m.closeWindow(box, false)
}

// Kick wakes m's reporter.
func Kick(m *Meter) { m.kick() }

// Add adds b to a, field by field.
func (a *Usage) Add(b Usage) { a.add(b) }
