package store

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/hashicorp/raft"
)

// BenchmarkLogStore measures StoreLogs of batches of 512-byte entries, each
// call fsynced, for both log stores. The faster one is DefaultLogStore.
//
//	go test ./store -run '^$' -bench BenchmarkLogStore -benchtime 2s
func BenchmarkLogStore(b *testing.B) {
	data := make([]byte, 512)
	for i := range data {
		data[i] = byte(i)
	}
	for _, kind := range []string{LogStoreBolt, LogStoreWAL} {
		for _, batch := range []int{1, 16, 128} {
			b.Run(fmt.Sprintf("%s/batch=%d", kind, batch), func(b *testing.B) {
				ls, err := openLogStore(kind, b.TempDir(), newHCLogger(slog.New(slog.DiscardHandler)))
				if err != nil {
					b.Fatal(err)
				}
				defer ls.Close()
				logs := make([]*raft.Log, batch)
				for i := range logs {
					logs[i] = &raft.Log{Term: 1, Type: raft.LogCommand, Data: data}
				}
				next := uint64(1)
				b.SetBytes(int64(batch * len(data)))
				b.ResetTimer()
				for range b.N {
					for _, l := range logs {
						l.Index = next
						next++
					}
					if err := ls.StoreLogs(logs); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
			})
		}
	}
}
