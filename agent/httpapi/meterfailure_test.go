package httpapi

import (
	"context"
	"strings"
	"testing"

	"go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/store"
)

// docExists reports whether tenant's document c/id is stored.
func docExists(t *testing.T, e *managedEnv, tenant, c, id string) bool {
	t.Helper()
	err := e.store.View(context.Background(), store.Stale, func(tx *bbolt.Tx) error {
		_, err := document.Get(tx, tenant, c, id)
		return err
	})
	return err == nil
}

// TestMeteringFailure: while the meter cannot record (a full disk), a
// write is refused before it is applied (503, nothing applied, nothing
// metered) and a read's answer is withheld. On the old code the write was
// applied and answered 503, and never billed.
func TestMeteringFailure(t *testing.T) {
	e := newManagedEnv(t)
	const doc = "/api/v1/collections/c/documents/d"
	e.meter.setFail(errDiskFull)
	r := e.do("PUT", doc, alphaRW, `{"data":{"a":1}}`)
	code, msg := r.ErrCode(t)
	if r.Status != 503 || code != "unavailable" || !strings.Contains(msg, "nothing was applied") || strings.Contains(msg, "no space") {
		t.Fatalf("write with metering down = %d %s, want 503 saying nothing was applied", r.Status, r.Body)
	}
	if r.Header.Get("ETag") != "" || r.Header.Get("Location") != "" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("refused write: headers %v", r.Header)
	}
	if docExists(t, e, "alpha", "c", "d") {
		t.Fatal("the write refused with 503 was applied (and never billed)")
	}
	e.meter.setFail(nil)
	e.must(201, "PUT", doc, alphaRW, `{"data":{"a":1}}`)
	e.meter.setFail(errDiskFull)
	r = e.do("GET", doc, alphaRead, "")
	if code, msg := r.ErrCode(t); r.Status != 503 || code != "unavailable" || !strings.Contains(msg, "withheld") || strings.Contains(string(r.Body), `"a":1`) {
		t.Fatalf("read with metering down = %d %s, want 503 without the data", r.Status, r.Body)
	}
	if !strings.Contains(e.logs.String(), "metering unavailable; refusing a write") || !strings.Contains(e.logs.String(), "no space left") {
		t.Fatalf("metering failure not logged:\n%s", e.logs)
	}
	e.meter.setFail(nil)
	e.must(200, "GET", doc, alphaRead, "")
	if calls := e.meter.take(); len(calls) != 2 || calls[0].u.Writes != 1 || calls[1].u.Reads != 1 {
		t.Fatalf("metered %+v, want the applied write and the answered read", calls)
	}
}

// TestMeteringHoldsAppliedWrite: when the meter's journal fails between
// admission and recording (the disk filled meanwhile), the applied
// write's answer waits until its usage is recorded, then is given, and
// the usage is billed. On the old code it was answered 503 at once and
// never billed.
func TestMeteringHoldsAppliedWrite(t *testing.T) {
	e := newManagedEnv(t)
	hold, holding := make(chan struct{}), make(chan struct{}, 1)
	e.meter.mu.Lock()
	e.meter.hold, e.meter.holding = hold, holding
	e.meter.mu.Unlock()
	done := make(chan resp, 1)
	go func() {
		done <- e.do("PUT", "/api/v1/collections/c/documents/d", alphaRW, `{"data":{"a":1}}`)
	}()
	select {
	case <-holding:
	case r := <-done:
		t.Fatalf("the applied write was answered (%d %s) without waiting for its usage", r.Status, r.Body)
	}
	if !docExists(t, e, "alpha", "c", "d") {
		t.Fatal("the held write is not applied")
	}
	select {
	case r := <-done:
		t.Fatalf("the applied write was answered (%d %s) while its usage is held", r.Status, r.Body)
	default:
	}
	close(hold)
	r := <-done
	if r.Status != 201 {
		t.Fatalf("held write answered %d %s, want 201 once recorded", r.Status, r.Body)
	}
	if calls := e.meter.take(); len(calls) != 1 || calls[0].u.Writes != 1 {
		t.Fatalf("metered %+v, want the write", calls)
	}
}
