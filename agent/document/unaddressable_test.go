package document

import (
	"errors"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestUnaddressable: documents stored with the ids "." and ".."
// (Apply accepts them, as it did before the API refused them) are all
// reported, in tenant and collection order, and nothing else is.
func TestUnaddressable(t *testing.T) {
	db := openDB(t)
	sm := NewStateMachine(Config{})
	other := func(op Op) Op { op.Tenant = "beta"; return op }
	mustApply(t, db, sm,
		putOp("a", "..", `{"n":1}`), putOp("a", "...", `{}`), putOp("a", ".x", `{}`), putOp("a", "ok", `{}`),
		putOp("b", ".", `{}`), putOp("b", "..", `{}`), putOp("clean", "x", `{}`),
		other(putOp("z", ".", `{}`)),
	)
	var got []string
	err := db.View(func(tx *bolt.Tx) error {
		return Unaddressable(tx, func(r Ref) error {
			got = append(got, r.Tenant+"/"+r.Collection+"/"+r.ID)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "[acme/a/.. acme/b/. acme/b/.. beta/z/.]"
	if fmt.Sprint(got) != want {
		t.Errorf("reported %v, want %s", got, want)
	}
	// fn's error stops the walk and comes back.
	stop := errors.New("stop")
	calls := 0
	err = db.View(func(tx *bolt.Tx) error {
		return Unaddressable(tx, func(Ref) error { calls++; return stop })
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Unaddressable = %v after %d calls, want stop after 1", err, calls)
	}
	// Every reported id is one the API refuses.
	for _, id := range []string{".", ".."} {
		if err := ValidateRequestID(id); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateRequestID(%q) = %v, want ErrInvalid", id, err)
		}
	}
	for _, id := range []string{"...", ".x", "x.", "a..b"} {
		if err := ValidateRequestID(id); err != nil {
			t.Errorf("ValidateRequestID(%q) = %v, want nil", id, err)
		}
	}
}
