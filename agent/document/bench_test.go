package document

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// doc256 returns a 256-byte JSON document with a numeric field n.
func doc256(n int) string {
	head := fmt.Sprintf(`{"n":%d,"g":%d,"s":"`, n, n%1000)
	return head + strings.Repeat("x", 256-len(head)-2) + `"}`
}

func benchApplyPut(b *testing.B, indexed bool) {
	db, sm := openDB(b), NewStateMachine(Config{})
	if indexed {
		mustApply(b, db, sm, indexOp("c", "n"), indexOp("c", "g"))
	}
	cmds := make([][]byte, 1000)
	for i := range cmds {
		c, err := EncodeCommand(Command{Ops: []Op{putOp("c", fmt.Sprintf("doc-%06d", i), doc256(i))}})
		if err != nil {
			b.Fatal(err)
		}
		cmds[i] = c
	}
	b.SetBytes(256)
	b.ResetTimer()
	// The store applies many commands per transaction; so do we.
	for i := 0; i < b.N; {
		n := min(b.N-i, 500)
		if err := db.Update(func(tx *bolt.Tx) error {
			for j := range n {
				out := sm.Apply(tx, uint64(i+j), cmds[(i+j)%len(cmds)])
				if out[1] != 0 {
					res, _ := DecodeResult(out)
					return res.Err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		i += n
	}
}

func BenchmarkApplyPut(b *testing.B)        { benchApplyPut(b, false) }
func BenchmarkApplyPutIndexed(b *testing.B) { benchApplyPut(b, true) }

func loadBench(b *testing.B, n int) *bolt.DB {
	b.Helper()
	db, sm := openDB(b), NewStateMachine(Config{})
	mustApply(b, db, sm, indexOp("c", "g"))
	for i := 0; i < n; i += 500 {
		var ops []Op
		for j := i; j < min(i+500, n); j++ {
			ops = append(ops, putOp("c", fmt.Sprintf("doc-%06d", j), doc256(j)))
		}
		mustApply(b, db, sm, ops...)
	}
	return db
}

func BenchmarkGet(b *testing.B) {
	db := loadBench(b, 10000)
	b.ResetTimer()
	err := db.View(func(tx *bolt.Tx) error {
		for i := range b.N {
			if _, err := Get(tx, testTenant, "c", fmt.Sprintf("doc-%06d", i%10000)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func benchQuery(b *testing.B, opts queryOptions) {
	db := loadBench(b, 10000)
	q := QueryRequest{Filter: json.RawMessage(`{"g":{"$in":[7,8]}}`), Sort: json.RawMessage(`{"n":-1}`)}
	b.ResetTimer()
	for range b.N {
		page, _ := runQ(b, db, "c", q, opts)
		if page.Total != 20 {
			b.Fatalf("total = %d, want 20", page.Total)
		}
	}
}

// BenchmarkQueryIndexed and BenchmarkQueryScan run the same query over
// 10,000 documents, through the index on g and by a full scan.
func BenchmarkQueryIndexed(b *testing.B) { benchQuery(b, queryOptions{}) }
func BenchmarkQueryScan(b *testing.B)    { benchQuery(b, queryOptions{forceScan: true}) }

func BenchmarkEncodeCommand(b *testing.B) {
	c := Command{Ops: []Op{putOp("c", "doc-000001", doc256(1))}}
	b.ReportAllocs()
	for range b.N {
		if _, err := EncodeCommand(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeCommand(b *testing.B) {
	enc, _ := EncodeCommand(Command{Ops: []Op{putOp("c", "doc-000001", doc256(1))}})
	b.ReportAllocs()
	for range b.N {
		if _, err := DecodeCommand(enc); err != nil {
			b.Fatal(err)
		}
	}
}
