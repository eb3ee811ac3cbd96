package store

import (
	"context"

	"github.com/hashicorp/raft"
)

// awaitFuture waits for f like f.Error(), or until ctx is done.
//
// A configuration change future of hashicorp/raft v1.7.3 is not tied to the
// raft instance's shutdown: when leadership and the instance go away while
// the change is in flight, f.Error() can block forever (seen as a hang of
// Store.Close, which waits for the promotion loop). Waiting on ctx as well
// lets the caller's goroutine end; the goroutine left waiting on f ends
// whenever raft answers it.
func awaitFuture(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
