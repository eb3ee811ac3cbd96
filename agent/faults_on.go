//go:build faults

package agent

import (
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Fault injection for process-level tests (build tag faults; see
// tests/proctest's Isolate and Heal): SIGUSR1 isolates the node from its
// peers on the raft port, SIGUSR2 heals it. Release builds have neither.

// faultsEnabled reports whether this binary was built with fault injection.
const faultsEnabled = true

// startFaults wraps the raft listener and dialer with an isolator switched
// by SIGUSR1/SIGUSR2 and returns the stop function of the signal watcher.
func startFaults(log *slog.Logger, iso *isolator) (stop func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGUSR1, syscall.SIGUSR2)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case sig := <-ch:
				isolated := sig == syscall.SIGUSR1
				iso.set(isolated)
				if isolated {
					log.Warn("fault injection: isolated from the peers (raft port)")
				} else {
					log.Warn("fault injection: healed")
				}
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { signal.Stop(ch); close(done) }) }
}
