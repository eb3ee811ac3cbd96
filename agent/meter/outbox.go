package meter

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// OutboxFile is the outbox's file name under Config.DataDir.
const OutboxFile = "meter.db"

var (
	bucketMeta    = []byte("meta")
	bucketOutbox  = []byte("outbox")
	bucketDead    = []byte("dead")
	keyNextSeq    = []byte("next_seq")
	keyNodeID     = []byte("node_id")
	keyIncarn     = []byte("incarnation")
	keyConsumed   = []byte("journal_consumed")
	errOutboxNode = errors.New("outbox belongs to another node")
)

// DeadLetter is a record billing rejected for good (or that could not be
// decoded), kept aside with the reason.
type DeadLetter struct {
	Record
	Reason string
	At     time.Time
}

// outbox is the durable queue of closed windows.
type outbox struct {
	db *bolt.DB
	// incarnation identifies this file's sequence numbers: 128 random
	// bits, in hex, drawn when the file is created, so the outbox of a
	// wiped data directory never reuses an earlier one's (node, seq)
	// identities. "" for a file created before incarnations: its records
	// keep the (cluster, node, seq) identity billing has deduplicated them
	// by.
	incarnation string
}

// newIncarnation returns a fresh incarnation id.
func newIncarnation() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// openOutbox opens (creating) dir/meter.db for nodeID. A file written by
// another node id is refused: its sequence numbers are that node's.
func openOutbox(dir, nodeID string) (*outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	path := filepath.Join(dir, OutboxFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("outbox %s: %w", path, err)
	}
	box := &outbox{db: db}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketOutbox, bucketDead} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch got := meta.Get(keyNodeID); {
		case got == nil:
			inc, err := newIncarnation()
			if err != nil {
				return fmt.Errorf("incarnation: %w", err)
			}
			box.incarnation = inc
			if err := meta.Put(keyIncarn, []byte(inc)); err != nil {
				return err
			}
			if err := meta.Put(keyNodeID, []byte(nodeID)); err != nil {
				return err
			}
			return meta.Put(keyNextSeq, binary.BigEndian.AppendUint64(nil, 1))
		case string(got) != nodeID:
			return fmt.Errorf("%w: %s holds node %q's records, this is node %q", errOutboxNode, path, got, nodeID)
		}
		box.incarnation = string(meta.Get(keyIncarn))
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return box, nil
}

func (o *outbox) close() error { return o.db.Close() }

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// append numbers recs with the next sequence numbers and writes them and
// the new next number in one fsynced transaction. It returns the records
// with their Seq set.
func (o *outbox) append(recs []Record) ([]Record, error) {
	return o.commit(recs, 0)
}

// commit numbers recs with the next sequence numbers and writes them, the
// new next number and, when higher than the stored one, consumed (the
// highest journal generation whose records recs hold) in one fsynced
// transaction. It returns the records with their Seq set.
func (o *outbox) commit(recs []Record, consumed uint64) ([]Record, error) {
	if len(recs) == 0 && consumed == 0 {
		return nil, nil
	}
	out := make([]Record, len(recs))
	err := o.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if consumed > 0 {
			old, err := readConsumed(meta)
			if err != nil {
				return err
			}
			if consumed > old {
				if err := meta.Put(keyConsumed, seqKey(consumed)); err != nil {
					return err
				}
			}
		}
		if len(recs) == 0 {
			return nil
		}
		next, err := readSeq(meta)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketOutbox)
		for i, r := range recs {
			r.Seq = next
			next++
			if err := b.Put(seqKey(r.Seq), encodeRecord(r)); err != nil {
				return err
			}
			out[i] = r
		}
		return meta.Put(keyNextSeq, seqKey(next))
	})
	if err != nil {
		return nil, fmt.Errorf("outbox append: %w", err)
	}
	return out, nil
}

// consumed returns the highest journal generation whose records are in
// the outbox (0: none).
func (o *outbox) consumed() (uint64, error) {
	var n uint64
	err := o.db.View(func(tx *bolt.Tx) (err error) {
		n, err = readConsumed(tx.Bucket(bucketMeta))
		return err
	})
	return n, err
}

func readConsumed(meta *bolt.Bucket) (uint64, error) {
	v := meta.Get(keyConsumed)
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(v), nil
	}
	return 0, fmt.Errorf("%w: journal_consumed is %d bytes", ErrCorrupt, len(v))
}

func readSeq(meta *bolt.Bucket) (uint64, error) {
	v := meta.Get(keyNextSeq)
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: next_seq is %d bytes", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// nextSeq returns the sequence number the next record will get.
func (o *outbox) nextSeq() (uint64, error) {
	var n uint64
	err := o.db.View(func(tx *bolt.Tx) (err error) {
		n, err = readSeq(tx.Bucket(bucketMeta))
		return err
	})
	return n, err
}

// pending returns up to limit records, oldest first. Values that do not
// decode are moved to the dead-letter bucket on the way.
func (o *outbox) pending(limit int) ([]Record, error) {
	var out []Record
	var bad []DeadLetter
	err := o.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			if len(k) != 8 {
				bad = append(bad, DeadLetter{Reason: fmt.Sprintf("corrupt key %x", k)})
				continue
			}
			seq := binary.BigEndian.Uint64(k)
			r, err := decodeRecord(seq, v)
			if err != nil {
				bad = append(bad, DeadLetter{Record: Record{Seq: seq}, Reason: err.Error()})
				continue
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("outbox read: %w", err)
	}
	if len(bad) > 0 {
		if err := o.settle(nil, bad); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// settle deletes acknowledged records and moves rejected ones to the
// dead-letter bucket, in one transaction.
func (o *outbox) settle(acked []uint64, dead []DeadLetter) error {
	if len(acked) == 0 && len(dead) == 0 {
		return nil
	}
	err := o.db.Update(func(tx *bolt.Tx) error {
		b, d := tx.Bucket(bucketOutbox), tx.Bucket(bucketDead)
		for _, s := range acked {
			if err := b.Delete(seqKey(s)); err != nil {
				return err
			}
		}
		for _, dl := range dead {
			k := seqKey(dl.Seq)
			raw := b.Get(k)
			v := binary.AppendVarint(nil, dl.At.UnixNano())
			v = binary.AppendUvarint(v, uint64(len(dl.Reason)))
			v = append(v, dl.Reason...)
			v = append(v, raw...)
			if err := d.Put(k, v); err != nil {
				return err
			}
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("outbox settle: %w", err)
	}
	return nil
}

// deadLetters lists the dead-letter bucket, oldest first.
func (o *outbox) deadLetters() ([]DeadLetter, error) {
	var out []DeadLetter
	err := o.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDead).ForEach(func(k, v []byte) error {
			dl, err := decodeDead(k, v)
			if err != nil {
				return err
			}
			out = append(out, dl)
			return nil
		})
	})
	return out, err
}

func decodeDead(k, v []byte) (DeadLetter, error) {
	var dl DeadLetter
	if len(k) == 8 {
		dl.Seq = binary.BigEndian.Uint64(k)
	}
	at, n := binary.Varint(v)
	if n <= 0 {
		return dl, fmt.Errorf("%w: dead letter %d: time", ErrCorrupt, dl.Seq)
	}
	v = v[n:]
	l, n := binary.Uvarint(v)
	if n <= 0 || l > uint64(len(v)-n) {
		return dl, fmt.Errorf("%w: dead letter %d: reason", ErrCorrupt, dl.Seq)
	}
	v = v[n:]
	dl.At, dl.Reason = time.Unix(0, at).UTC(), string(v[:l])
	if r, err := decodeRecord(dl.Seq, v[l:]); err == nil {
		dl.Record = r
	}
	return dl, nil
}

// count returns the number of records waiting in the outbox.
func (o *outbox) count() (int, error) {
	var n int
	err := o.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketOutbox).Stats().KeyN
		return nil
	})
	return n, err
}
