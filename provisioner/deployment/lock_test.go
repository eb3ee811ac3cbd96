package deployment

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lockHelperEnv makes the test binary a process that holds a cluster's
// lock ("DIR NAME") until its stdin closes.
const lockHelperEnv = "DEPLOYMENT_LOCK_TEST_HELPER"

func TestMain(m *testing.M) {
	if v := os.Getenv(lockHelperEnv); v != "" {
		dir, name, _ := strings.Cut(v, " ")
		unlock, err := Store{Dir: dir}.Lock(name)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		unlock()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holdLock runs a process holding s's lock of name; release ends it.
func holdLock(t *testing.T, s Store, name string) (release func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+s.Dir+" "+name)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Errorf("lock holder: %v", err)
			}
		})
	}
	t.Cleanup(release)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("lock holder said %q (%v)", line, err)
	}
	return release
}

func TestLockWaitSerialisesGoroutines(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	const workers = 8
	var inside atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Another Store value of the same directory: the same lock.
			unlock, err := Store{Dir: s.Dir}.LockWait(context.Background(), "shop")
			if err != nil {
				errs <- err
				return
			}
			if n := inside.Add(1); n > 1 {
				errs <- fmt.Errorf("%d goroutines hold the lock at once", n)
			}
			// The fail-fast Lock sees the holder too.
			if _, err := s.Lock("shop"); !errors.Is(err, ErrLocked) {
				errs <- fmt.Errorf("Lock while LockWait holds it = %v, want ErrLocked", err)
			}
			inside.Add(-1)
			unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	unlock, err := s.Lock("shop")
	if err != nil {
		t.Fatalf("Lock after every LockWait unlocked: %v", err)
	}
	unlock()
}

func TestLockWaitWaitsForAnotherProcess(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	release := holdLock(t, s, "shop")
	if _, err := s.Lock("shop"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "being changed by another aerolith command") {
		t.Fatalf("Lock while another process holds it = %v", err)
	}
	done := make(chan error, 1)
	var unlock func()
	go func() {
		var err error
		unlock, err = s.LockWait(context.Background(), "shop")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("LockWait returned (%v) while another process holds the lock", err)
	default:
	}
	release()
	if err := <-done; err != nil {
		t.Fatalf("LockWait after the other process let go: %v", err)
	}
	// Held now: the other process cannot take it.
	if _, err := s.Lock("shop"); !errors.Is(err, ErrLocked) {
		t.Fatalf("Lock while LockWait holds it = %v", err)
	}
	unlock()
}

func TestLockWaitEndsWithContext(t *testing.T) {
	tests := []struct {
		name string
		hold func(t *testing.T, s Store) // holds the lock for the test
	}{
		{"another process", func(t *testing.T, s Store) { holdLock(t, s, "shop") }},
		{"another goroutine", func(t *testing.T, s Store) {
			unlock, err := s.LockWait(context.Background(), "shop")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(unlock)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Store{Dir: t.TempDir()}
			tt.hold(t, s)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := s.LockWait(ctx, "shop")
				done <- err
			}()
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, ErrLocked) || !errors.Is(err, context.Canceled) ||
					!strings.Contains(err.Error(), "for cluster shop, which another aerolith operation is changing") || !strings.Contains(err.Error(), "waited ") {
					t.Fatalf("LockWait after its context ended = %v", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("LockWait did not return after its context ended")
			}
		})
	}
}

func TestLockAfterRemove(t *testing.T) {
	// Remove deletes the lock file under its holder; a waiter must not
	// end up holding the unlinked file while a new command locks a new
	// one.
	s := Store{Dir: t.TempDir()}
	unlock, err := s.LockWait(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("shop"); err != nil {
		t.Fatal(err)
	}
	unlock()
	u1, err := s.LockWait(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	defer u1()
	if _, err := os.Stat(s.lockPath("shop")); err != nil {
		t.Fatalf("the lock taken after Remove has no file: %v", err)
	}
}
