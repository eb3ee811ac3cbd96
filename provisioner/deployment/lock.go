package deployment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/aerolithdb/aerolith/internal/backoff"
)

// ErrLocked is a cluster whose lock another command (or another
// operation of this process) holds: Lock's error, and LockWait's when its
// context ended first.
var ErrLocked = errors.New("cluster is locked")

// lockPoll is how often LockWait tries again for a lock another process
// holds: flock has no notification, so it polls, soon at first and then
// at most every 250ms (a person waits for a command to finish; polling
// faster only costs system calls).
var lockPoll = backoff.Policy{Min: 5 * time.Millisecond, Max: 250 * time.Millisecond}

// gates serialise the holders of one lock file within this process. Two
// flocks on separate open file descriptions conflict even in one
// process, so without a gate two goroutines would both poll flock and
// the wait of one would not end when the other unlocks (nothing tells
// it); a gate hands the lock over at once and honours ctx while it
// waits. It is process-wide, not per Store value, because two Store
// values of one directory are one lock.
var gates sync.Map // absolute lock path → chan struct{} (capacity 1)

func gate(path string) chan struct{} {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	g, _ := gates.LoadOrStore(path, make(chan struct{}, 1))
	return g.(chan struct{})
}

func (s Store) lockPath(name string) string { return filepath.Join(s.ClustersDir(), name+".lock") }

// Lock takes the cluster's lock, so two commands never change one cluster
// at once; the kernel drops it when the process ends, killed or not. It
// fails at once (ErrLocked) when another command, or another goroutine
// of this process, holds it: right for a person at a terminal, who is
// told to wait. Operations that run in parallel with others on the same
// cluster (the Terraform provider's) use LockWait.
func (s Store) Lock(name string) (func(), error) {
	g := gate(s.lockPath(name))
	select {
	case g <- struct{}{}:
	default:
		return nil, fmt.Errorf("%w: cluster %s is being changed by another operation of this process; wait for it to finish", ErrLocked, name)
	}
	unlock, held, err := s.tryFlock(name)
	if err == nil && held {
		err = fmt.Errorf("%w: cluster %s is being changed by another aerolith command; wait for it to finish", ErrLocked, name)
	}
	if err != nil {
		<-g
		return nil, err
	}
	return func() { unlock(); <-g }, nil
}

// LockWait takes the cluster's lock like Lock, waiting while another
// goroutine of this process or another process holds it, until ctx ends:
// then it fails with ErrLocked and ctx's error, naming the cluster and
// how long it waited. The wait on another process polls its flock.
func (s Store) LockWait(ctx context.Context, name string) (func(), error) {
	start := time.Now()
	waited := func(cause error) error {
		return fmt.Errorf("%w: waited %s for cluster %s, which another aerolith operation is changing: %w",
			ErrLocked, time.Since(start).Round(time.Millisecond), name, cause)
	}
	g := gate(s.lockPath(name))
	select {
	case g <- struct{}{}:
	case <-ctx.Done():
		return nil, waited(context.Cause(ctx))
	}
	for n := 1; ; n++ {
		unlock, held, err := s.tryFlock(name)
		if err != nil {
			<-g
			return nil, err
		}
		if !held {
			return func() { unlock(); <-g }, nil
		}
		if err := backoff.Sleep(ctx, lockPoll.Jittered(n)); err != nil {
			<-g
			return nil, waited(context.Cause(ctx))
		}
	}
}

// tryFlock takes the lock file's flock without waiting: held reports
// that another open file description (another process) holds it.
func (s Store) tryFlock(name string) (unlock func(), held bool, err error) {
	if err := os.MkdirAll(s.ClustersDir(), 0o700); err != nil {
		return nil, false, err
	}
	p := s.lockPath(name)
	// Remove deletes the file of a destroyed cluster while holding it: a
	// flock taken on the unlinked file would be a lock nobody else sees,
	// so the file locked must still be the one at the path (else open
	// the new one).
	for {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, false, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, true, nil
			}
			return nil, false, fmt.Errorf("lock %s: %w", p, err)
		}
		var fst, pst syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &fst); err != nil {
			f.Close()
			return nil, false, fmt.Errorf("lock %s: %w", p, err)
		}
		if syscall.Stat(p, &pst) == nil && fst.Ino == pst.Ino && fst.Dev == pst.Dev {
			return func() { f.Close() }, false, nil
		}
		f.Close()
	}
}
