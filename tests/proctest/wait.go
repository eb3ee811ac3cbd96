package proctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// pollInterval is how often the Wait functions re-check their condition.
const pollInterval = 50 * time.Millisecond

// poll calls check until it returns done, ctx ends or check returns a
// permanent error. The last transient error is reported on timeout.
func poll(ctx context.Context, what string, check func() (done bool, transient, permanent error)) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	var last error
	for {
		done, transient, permanent := check()
		if permanent != nil {
			return permanent
		}
		if done {
			return nil
		}
		if transient != nil {
			last = transient
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%s: %w (last: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// exited returns a permanent error when node i's process is gone.
func (c *Cluster) exited(i int) error {
	p := c.proc(i)
	if p == nil {
		return fmt.Errorf("%s: %w", c.nodes[i].id, ErrNotRunning)
	}
	select {
	case <-p.done:
		return fmt.Errorf("%s: %w (%v); log tail:\n%s", c.nodes[i].id, ErrExited, p.err, c.LogTail(i, 30))
	default:
		return nil
	}
}

// WaitReady waits until node i answers GET /readyz with 200. It fails at once
// if the process exits.
func (c *Cluster) WaitReady(ctx context.Context, i int) error {
	return poll(ctx, "wait ready "+c.nodes[i].id, func() (bool, error, error) {
		if err := c.exited(i); err != nil {
			return false, nil, err
		}
		err := c.api.Ready(ctx, c.URL(i))
		return err == nil, err, nil
	})
}

// WaitAllReady waits until every active node (running, not paused) is ready.
func (c *Cluster) WaitAllReady(ctx context.Context) error {
	for i := range c.nodes {
		if !c.Active(i) {
			continue
		}
		if err := c.WaitReady(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// Leader asks every active node (running, not paused) for /api/v1/cluster and returns the index
// of the node that reports itself leader (the highest term wins when a
// deposed leader has not noticed yet). ErrNoLeader when none does.
func (c *Cluster) Leader(ctx context.Context) (int, error) {
	best, bestTerm := -1, uint64(0)
	var errs []error
	for i := range c.nodes {
		if !c.Active(i) {
			continue
		}
		info, err := c.api.Cluster(ctx, c.URL(i))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !strings.EqualFold(info.State, "leader") || info.NodeID != c.nodes[i].id {
			continue
		}
		if best < 0 || info.Term > bestTerm {
			best, bestTerm = i, info.Term
		}
	}
	if best < 0 {
		return -1, fmt.Errorf("%w (probe errors: %v)", ErrNoLeader, errors.Join(errs...))
	}
	return best, nil
}

// WaitLeader waits until one active node reports itself leader and every
// active node names it as leader_id, and returns its index.
func (c *Cluster) WaitLeader(ctx context.Context) (int, error) {
	leader := -1
	err := poll(ctx, "wait leader", func() (bool, error, error) {
		l, err := c.Leader(ctx)
		if err != nil {
			return false, err, nil
		}
		for i := range c.nodes {
			if !c.Active(i) {
				continue
			}
			info, err := c.api.Cluster(ctx, c.URL(i))
			if err != nil {
				return false, err, nil
			}
			if info.LeaderID != c.nodes[l].id {
				return false, fmt.Errorf("%s names leader %q, %s claims it", c.nodes[i].id, info.LeaderID, c.nodes[l].id), nil
			}
		}
		leader = l
		return true, nil, nil
	})
	return leader, err
}

// WaitNewLeader waits for an agreed leader other than node old.
func (c *Cluster) WaitNewLeader(ctx context.Context, old int) (int, error) {
	leader := -1
	err := poll(ctx, "wait new leader", func() (bool, error, error) {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		l, err := c.WaitLeader(wctx)
		if err != nil {
			return false, err, nil
		}
		if l == old {
			return false, fmt.Errorf("%s is still leader", c.nodes[old].id), nil
		}
		leader = l
		return true, nil, nil
	})
	return leader, err
}

// BarrierCollection is the collection WaitConverged writes its marker
// documents into.
const BarrierCollection = "proctest_barrier"

// WaitConverged waits until every running node has applied every write
// acknowledged before the call, so that stale reads on any node see them
// (paused nodes are skipped). It
// writes a marker document into BarrierCollection (through any node that
// accepts it) and waits until each running node serves the marker with a
// stale read: the store applies its log in order, so every earlier write is
// applied there too.
func (c *Cluster) WaitConverged(ctx context.Context) error {
	id := fmt.Sprintf("m%d", time.Now().UnixNano())
	var written bool
	err := poll(ctx, "write convergence marker", func() (bool, error, error) {
		var errs []error
		for i := range c.nodes {
			if !c.Active(i) {
				continue
			}
			_, err := c.api.Put(ctx, c.URL(i), BarrierCollection, id, map[string]any{"marker": id}, 0)
			if err == nil {
				written = true
				return true, nil, nil
			}
			errs = append(errs, err)
		}
		return false, errors.Join(errs...), nil
	})
	if err != nil || !written {
		return err
	}
	for i := range c.nodes {
		if !c.Active(i) {
			continue
		}
		err := poll(ctx, fmt.Sprintf("wait %s applied marker", c.nodes[i].id), func() (bool, error, error) {
			if err := c.exited(i); err != nil {
				return false, nil, err
			}
			_, err := c.api.Get(ctx, c.URL(i), BarrierCollection, id, Stale)
			return err == nil, err, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// LogTail returns the last n lines of node i's log file.
func (c *Cluster) LogTail(i, n int) string {
	b, err := os.ReadFile(c.nodes[i].logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return tail(b, n)
}

// LogTails returns the last n lines of every node's log, each under a header.
func (c *Cluster) LogTails(n int) string {
	var sb strings.Builder
	for i, nd := range c.nodes {
		fmt.Fprintf(&sb, "----- %s (%s) last %d lines -----\n%s\n", nd.id, nd.logPath, n, c.LogTail(i, n))
	}
	return sb.String()
}

// Crashes returns, for every node whose log shows a Go panic or fatal
// error, the first n lines from the "panic:" / "fatal error:" line on, each
// under a header; "" when no log shows one. The tail of a crashed agent's
// log is mostly goroutine stacks, so StartCluster logs this as well.
func (c *Cluster) Crashes(n int) string {
	var sb strings.Builder
	for i, nd := range c.nodes {
		b, err := os.ReadFile(c.nodes[i].logPath)
		if err != nil {
			continue
		}
		if sec := crash(b, n); sec != "" {
			fmt.Fprintf(&sb, "----- %s (%s) crashed -----\n%s\n", nd.id, nd.logPath, sec)
		}
	}
	return sb.String()
}

// crash returns up to n lines starting at the first line that begins a Go
// runtime crash report.
func crash(b []byte, n int) string {
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			end := min(len(lines), i+n)
			return strings.Join(lines[i:end], "\n")
		}
	}
	return ""
}

func tail(b []byte, n int) string {
	b = bytes.TrimRight(b, "\n")
	idx := len(b)
	for k := 0; k < n; k++ {
		j := bytes.LastIndexByte(b[:idx], '\n')
		if j < 0 {
			return string(b)
		}
		idx = j
	}
	return string(b[idx+1:])
}
