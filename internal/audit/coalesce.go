package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// DefaultCoalesceWindow is the window of a Coalescer built with window 0.
const DefaultCoalesceWindow = time.Minute

// DefaultCoalesceKeys bounds the keys a Coalescer tracks when built with
// maxKeys 0.
const DefaultCoalesceKeys = 10000

// OverflowKey is the key a Coalescer files events under once it tracks
// maxKeys keys: a flood from ever new sources still yields one record per
// window, not one per source.
const OverflowKey = "overflow"

// Coalescer records repeated events — failed authentications, quota
// refusals — at most once per key and window, so a flood of them cannot
// fill the disk. The first event of a key in a window is recorded at once;
// the rest are counted, and the count is recorded later as one summary
// record: the last counted event with detail "repeats" (how many were
// not recorded one by one) and "since" (when the window began). Summaries
// are written when the key's window has passed and another event comes in
// (of any key), and by Flush. It is safe for concurrent use.
type Coalescer struct {
	a       Auditor
	window  time.Duration
	maxKeys int
	// Now returns the current time; it defaults to time.Now. Set it before
	// first use.
	Now func() time.Time

	mu        sync.Mutex
	slots     map[string]*slot
	lastSweep time.Time
}

type slot struct {
	start   time.Time
	repeats int
	last    Event
}

// NewCoalescer returns a Coalescer writing to a. window 0 means
// DefaultCoalesceWindow and maxKeys 0 DefaultCoalesceKeys.
func NewCoalescer(a Auditor, window time.Duration, maxKeys int) *Coalescer {
	if window <= 0 {
		window = DefaultCoalesceWindow
	}
	if maxKeys <= 0 {
		maxKeys = DefaultCoalesceKeys
	}
	return &Coalescer{a: a, window: window, maxKeys: maxKeys, Now: time.Now, slots: map[string]*slot{}}
}

// Append records e unless an event of key was recorded less than a window
// ago; then it only counts e. Errors are the Auditor's.
func (c *Coalescer) Append(ctx context.Context, key string, e Event) error {
	now := c.Now()
	var out []Event
	c.mu.Lock()
	if now.Sub(c.lastSweep) >= c.window {
		c.lastSweep = now
		out = c.sweep(now, false)
	}
	s, ok := c.slots[key]
	if !ok && len(c.slots) >= c.maxKeys {
		key = OverflowKey
		s, ok = c.slots[key]
	}
	switch {
	case ok && now.Sub(s.start) < c.window:
		s.repeats++
		s.last = e
	default:
		if ok && s.repeats > 0 {
			out = append(out, summary(s))
		}
		c.slots[key] = &slot{start: now}
		out = append(out, e)
	}
	c.mu.Unlock()
	return c.write(ctx, out)
}

// Flush records the summary of every key with counted events and forgets
// all keys. Call it before closing the Auditor.
func (c *Coalescer) Flush(ctx context.Context) error {
	c.mu.Lock()
	out := c.sweep(c.Now(), true)
	c.mu.Unlock()
	return c.write(ctx, out)
}

// sweep removes the keys whose window has passed (all with force) and
// returns their summaries.
func (c *Coalescer) sweep(now time.Time, force bool) []Event {
	var out []Event
	for k, s := range c.slots {
		if !force && now.Sub(s.start) < c.window {
			continue
		}
		if s.repeats > 0 {
			out = append(out, summary(s))
		}
		delete(c.slots, k)
	}
	return out
}

func summary(s *slot) Event {
	e := s.last
	d := make(map[string]string, len(e.Detail)+2)
	for k, v := range e.Detail {
		d[k] = v
	}
	d["repeats"] = strconv.Itoa(s.repeats)
	d["since"] = s.start.UTC().Format(time.RFC3339)
	e.Detail = d
	return e
}

func (c *Coalescer) write(ctx context.Context, events []Event) error {
	var errs []error
	for _, e := range events {
		if err := c.a.Append(ctx, e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ReadKeyFile reads an HMAC key from a file: its bytes without trailing
// white space, at least MinHMACKeyBytes. Errors name the file, never the
// key.
func ReadKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, " \t\r\n")
	if len(b) < MinHMACKeyBytes {
		return nil, fmt.Errorf("%s holds %d bytes of key; want at least %d", path, len(b), MinHMACKeyBytes)
	}
	return b, nil
}
