package document

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// expiringCtx reports DeadlineExceeded once Err has been asked more than
// after times: a query deadline that passes in the middle of a scan,
// without depending on timing.
type expiringCtx struct {
	context.Context
	after, asked int
}

func (c *expiringCtx) Err() error {
	c.asked++
	if c.asked > c.after {
		return context.DeadlineExceeded
	}
	return nil
}

func TestQueryContextStopsTheScan(t *testing.T) {
	db := openDB(t)
	sm := NewStateMachine(Config{})
	var ops []Op
	for i := range 3 * queryCheckEvery {
		ops = append(ops, putOp("c", fmt.Sprintf("d%04d", i), `{"n":1}`))
	}
	mustApply(t, db, sm, ops...)

	run := func(ctx context.Context) (Page, error) {
		var page Page
		err := db.View(func(tx *bolt.Tx) error {
			var err error
			page, _, err = QueryContext(ctx, tx, testTenant, "c", QueryRequest{Filter: []byte(`{"n":1}`)})
			return err
		})
		return page, err
	}

	// A live context: the whole collection is read.
	page, err := run(context.Background())
	if err != nil || page.Total != 3*queryCheckEvery {
		t.Fatalf("live context: total %d, err %v; want %d, nil", page.Total, err, 3*queryCheckEvery)
	}
	// Done before the query starts.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: err %v; want context.Canceled", err)
	}
	// The deadline passes after the first check inside the scan: the scan
	// stops at the second check, having read 2×queryCheckEvery documents.
	ec := &expiringCtx{Context: context.Background(), after: 2}
	_, err = run(ec)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired mid-scan: err %v; want context.DeadlineExceeded", err)
	}
	if want := fmt.Sprintf("after %d documents", 2*queryCheckEvery); !strings.Contains(err.Error(), want) {
		t.Fatalf("expired mid-scan: %q does not say %q", err, want)
	}
}
