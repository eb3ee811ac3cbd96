package meter

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/backoff"
)

// reportLoop ships the outbox whenever a window closes (and every Window
// in case a wake-up was missed), backing off after failures.
func (m *Meter) reportLoop(ctx context.Context) {
	defer m.wg.Done()
	attempt := 0
	for {
		m.shipMu.Lock()
		box, _, err := m.outbox()
		if err != nil {
			m.shipMu.Unlock()
			return
		}
		more, err := m.shipOnce(ctx, box)
		m.shipMu.Unlock()
		if ctx.Err() != nil {
			return
		}
		var wait <-chan time.Time
		switch {
		case err != nil:
			attempt++
			d := m.backoff(attempt)
			m.log.Warn("shipping usage failed; retrying", "err", err, "attempt", attempt, "backoff", d)
			wait = time.After(d)
		case more:
			attempt = 0
			continue
		default:
			attempt = 0
			wait = time.After(m.cfg.Window)
		}
		select {
		case <-ctx.Done():
			return
		case <-wait:
		case <-m.notify:
			if err != nil {
				// A new window does not end a backoff.
				select {
				case <-ctx.Done():
					return
				case <-wait:
				}
			}
		}
	}
}

// shipOnce sends one batch of the oldest outbox records and settles the
// answers. more reports a full batch (there may be more to send). Caller
// holds shipMu.
func (m *Meter) shipOnce(ctx context.Context, box *outbox) (more bool, err error) {
	recs, err := box.pending(m.cfg.BatchSize)
	if err != nil || len(recs) == 0 {
		return false, err
	}
	now := m.cfg.Now().UTC()
	var dead []DeadLetter
	send := make([]client.UsageRecord, 0, len(recs))
	sendRecs := make([]Record, 0, len(recs))
	for _, r := range recs {
		if reason := checkRecord(r); reason != "" {
			dead = append(dead, DeadLetter{Record: r, Reason: reason, At: now})
			continue
		}
		send = append(send, client.UsageRecord{NodeID: m.cfg.NodeID, Incarnation: box.incarnation, Seq: r.Seq, TenantID: r.Tenant,
			Start: r.Start, End: r.End, Reads: r.Reads, Writes: r.Writes, Queries: r.Queries,
			QueryComputeMs: r.QueryComputeMs, IngressBytes: r.IngressBytes, EgressBytes: r.EgressBytes,
			StorageByteSeconds: r.StorageByteSeconds})
		sendRecs = append(sendRecs, r)
	}
	var acked []uint64
	retry := 0
	if len(send) > 0 {
		m.sent.Add(uint64(len(send)))
		res, err := m.sender.SendUsage(ctx, send)
		if err != nil {
			if serr := m.settleDead(box, dead); serr != nil {
				return false, serr
			}
			return false, fmt.Errorf("send usage: %w", err)
		}
		if len(res.Records) != len(send) {
			return false, fmt.Errorf("send usage: %d results for %d records", len(res.Records), len(send))
		}
		for i, rr := range res.Records {
			switch {
			case rr.Status == client.RecordAccepted || rr.Status == client.RecordDuplicate:
				acked = append(acked, sendRecs[i].Seq)
			case rr.Status == client.RecordRejected && rr.Retry:
				retry++
			default:
				r := sendRecs[i]
				reason := fmt.Sprintf("billing %s: %s: %s", rr.Status, rr.Code, rr.Reason)
				dead = append(dead, DeadLetter{Record: r, Reason: reason, At: now})
			}
		}
	}
	if err := box.settle(acked, dead); err != nil {
		return false, err
	}
	m.acked.Add(uint64(len(acked)))
	m.logDead(dead)
	if retry > 0 {
		return false, fmt.Errorf("%w: %d of %d records", ErrRetryLater, retry, len(send))
	}
	return len(recs) == m.cfg.BatchSize, nil
}

func (m *Meter) settleDead(box *outbox, dead []DeadLetter) error {
	if err := box.settle(nil, dead); err != nil {
		return err
	}
	m.logDead(dead)
	return nil
}

func (m *Meter) logDead(dead []DeadLetter) {
	m.dead.Add(uint64(len(dead)))
	for _, d := range dead {
		m.log.Error("usage record dead-lettered: billing rejected it for good, so it is not billed; fix the cause, then replay it (aerolith meter dead-letters replay)",
			"seq", d.Seq, "tenant", d.Tenant, "start", d.Start, "end", d.End, "writes", d.Writes, "reads", d.Reads, "reason", d.Reason)
	}
}

// checkRecord returns why billing could never accept r ("" when it may).
func checkRecord(r Record) string {
	for i, v := range [...]uint64{r.Reads, r.Writes, r.Queries, r.QueryComputeMs, r.IngressBytes, r.EgressBytes, r.StorageByteSeconds} {
		if v > math.MaxInt64 {
			return fmt.Sprintf("local: counter %d: %d exceeds 2^63-1", i, v)
		}
	}
	if r.Start.UnixNano() <= 0 {
		return "local: start: before 1970"
	}
	return ""
}

// backoff returns the wait after the attempt-th consecutive failure
// (attempt >= 1), on the schedule of Config.MinBackoff and MaxBackoff.
func (m *Meter) backoff(attempt int) time.Duration {
	return backoff.Policy{Min: m.cfg.MinBackoff, Max: m.cfg.MaxBackoff}.Jittered(attempt)
}
