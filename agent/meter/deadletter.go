package meter

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrNoDeadLetter is returned (wrapped) by ReplayDeadLetters for a
// sequence number that is not in the dead-letter bucket.
var ErrNoDeadLetter = errors.New("no such dead letter")

// ReplayOptions selects the dead letters ReplayDeadLetters sends again.
type ReplayOptions struct {
	// Seqs are the dead letters to replay, by sequence number; empty
	// replays every one.
	Seqs []uint64
	// Restamp moves each window to end at the replay time, keeping its
	// length: for records rejected because the node's clock was ahead
	// (their window starts in billing's future), once the clock is fixed.
	Restamp bool
}

// Replayed is a dead letter moved back into the outbox.
type Replayed struct {
	// Seq was its sequence number; NewSeq is the one it is sent under.
	Seq, NewSeq uint64
	Tenant      string
	Start, End  time.Time
}

// ReplayDeadLetters moves dead letters back into the outbox, once their
// cause is fixed (the tenant assigned to the cluster again, the clock set
// right), and wakes the reporter to send them. Billing consumed the
// sequence number it rejected (a resend would be answered duplicate and
// never billed), so each gets a new number of this outbox; the move is one
// transaction, so a dead letter is replayed at most once and its usage is
// billed at most once. A replayed record billing rejects again is
// dead-lettered again, under its new number. A dead letter whose record
// could not be decoded cannot be replayed (ErrCorrupt). Unknown sequence
// numbers fail the call (ErrNoDeadLetter) and move nothing.
func (m *Meter) ReplayDeadLetters(ctx context.Context, o ReplayOptions) ([]Replayed, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	box, _, err := m.outbox()
	if err != nil {
		return nil, err
	}
	out, err := box.replayDead(o, m.cfg.Now())
	if err != nil {
		return nil, err
	}
	if len(out) > 0 {
		for _, r := range out {
			m.log.Warn("dead letter replayed", "seq", r.Seq, "new_seq", r.NewSeq, "tenant", r.Tenant,
				"start", r.Start, "end", r.End, "restamped", o.Restamp)
		}
		m.kick()
	}
	return out, nil
}

// replayDead moves the selected dead letters to the outbox under new
// sequence numbers, in one transaction.
func (o *outbox) replayDead(opts ReplayOptions, now time.Time) ([]Replayed, error) {
	var out []Replayed
	err := o.db.Update(func(tx *bolt.Tx) error {
		d, b, meta := tx.Bucket(bucketDead), tx.Bucket(bucketOutbox), tx.Bucket(bucketMeta)
		var keys [][]byte
		if len(opts.Seqs) == 0 {
			if err := d.ForEach(func(k, _ []byte) error {
				keys = append(keys, slices.Clone(k))
				return nil
			}); err != nil {
				return err
			}
		} else {
			seqs := slices.Clone(opts.Seqs)
			slices.Sort(seqs)
			for _, s := range slices.Compact(seqs) {
				k := seqKey(s)
				if d.Get(k) == nil {
					return fmt.Errorf("%w: seq %d", ErrNoDeadLetter, s)
				}
				keys = append(keys, k)
			}
		}
		next, err := readSeq(meta)
		if err != nil {
			return err
		}
		for _, k := range keys {
			dl, err := decodeDead(k, d.Get(k))
			if err != nil {
				return err
			}
			if dl.Tenant == "" {
				return fmt.Errorf("%w: dead letter %d: its record cannot be decoded (%s)", ErrCorrupt, dl.Seq, dl.Reason)
			}
			r := dl.Record
			if opts.Restamp {
				length := r.End.Sub(r.Start)
				r.End = now.UTC()
				r.Start = r.End.Add(-length)
			}
			r.Seq = next
			next++
			if err := b.Put(seqKey(r.Seq), encodeRecord(r)); err != nil {
				return err
			}
			if err := d.Delete(k); err != nil {
				return err
			}
			out = append(out, Replayed{Seq: dl.Seq, NewSeq: r.Seq, Tenant: r.Tenant, Start: r.Start, End: r.End})
		}
		return meta.Put(keyNextSeq, binary.BigEndian.AppendUint64(nil, next))
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: replay dead letters: %w", err)
	}
	return out, nil
}

// deadCount returns the number of dead letters.
func (o *outbox) deadCount() (int, error) {
	var n int
	err := o.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketDead).Stats().KeyN
		return nil
	})
	return n, err
}
