package proctest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// FaultsTag is the build tag of agent binaries with fault injection
// (RunMain builds with it; BuildBinary(ctx, dir, FaultsTag) does too).
const FaultsTag = "faults"

// The log lines an agent built with FaultsTag writes when it obeys.
const (
	isolatedMsg = "fault injection: isolated from the peers"
	healedMsg   = "fault injection: healed"
)

// Isolate cuts node i off from its peers, as a network partition does,
// while the process keeps running: the agent (built with FaultsTag) closes
// its raft and internal RPC connections, closes inbound ones as soon as
// they are accepted and refuses to dial. Its HTTP API stays reachable, so
// clients and billing still talk to it. Isolate returns once the agent
// logged that it is isolated. Heal ends it. Do not call it on a binary
// built without FaultsTag: SIGUSR1 would terminate the process.
// Leader and the Wait functions skip an isolated node.
func (c *Cluster) Isolate(ctx context.Context, i int) error {
	if err := c.fault(ctx, i, syscall.SIGUSR1, isolatedMsg, "isolated from its peers (SIGUSR1)"); err != nil {
		return err
	}
	c.proc(i).isolated.Store(true)
	return nil
}

// Heal reconnects node i after Isolate (SIGUSR2) and returns once the agent
// logged it; raft reconnects on its own.
func (c *Cluster) Heal(ctx context.Context, i int) error {
	if err := c.fault(ctx, i, syscall.SIGUSR2, healedMsg, "healed (SIGUSR2)"); err != nil {
		return err
	}
	c.proc(i).isolated.Store(false)
	return nil
}

// Isolated reports whether node i runs and is isolated (see Isolate).
func (c *Cluster) Isolated(i int) bool {
	p := c.proc(i)
	return p != nil && c.Running(i) && p.isolated.Load()
}

func (c *Cluster) fault(ctx context.Context, i int, sig syscall.Signal, msg, note string) error {
	p := c.proc(i)
	if p == nil || !c.Running(i) {
		return fmt.Errorf("%s %s: %w", note, c.nodes[i].id, ErrNotRunning)
	}
	before := c.countLog(i, msg)
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", c.nodes[i].id, err)
	}
	c.note(i, note)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return poll(ctx, fmt.Sprintf("%s %s", c.nodes[i].id, note), func() (bool, error, error) {
		if err := c.exited(i); err != nil {
			return false, nil, err
		}
		return c.countLog(i, msg) > before, nil, nil
	})
}

// countLog counts the lines of node i's log that contain msg.
func (c *Cluster) countLog(i int, msg string) int {
	raw, err := os.ReadFile(c.nodes[i].logPath)
	if err != nil {
		return 0
	}
	return strings.Count(string(raw), msg)
}
