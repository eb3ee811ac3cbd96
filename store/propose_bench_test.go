package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// BenchmarkPropose measures puts on a 3-node in-process cluster (fsync on)
// with 1 and 100 concurrent proposers, on the leader and on a follower.
//
//	go test ./store -run '^$' -bench BenchmarkPropose -benchtime 5000x
func BenchmarkPropose(b *testing.B) {
	c := storetest.NewCluster(b, 3)
	leader := c.WaitForLeader()
	var follower *storetest.Node
	for _, nd := range c.Nodes() {
		if nd.ID != leader.ID {
			follower = nd
			break
		}
	}
	value := string(make([]byte, 100))
	for _, target := range []*storetest.Node{leader, follower} {
		role := "leader"
		if target != leader {
			role = "follower"
		}
		for _, clients := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/clients=%d", role, clients), func(b *testing.B) {
				benchPropose(b, target.Store, clients, value)
			})
		}
	}
}

func benchPropose(b *testing.B, s *store.Store, clients int, value string) {
	var next atomic.Int64
	var wg sync.WaitGroup
	ctx := context.Background()
	b.ResetTimer()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if _, _, err := s.Propose(ctx, storetest.Put(fmt.Sprintf("k%d-%d", w, i), value)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}

// BenchmarkLinearizableRead measures linearizable gets with 100 concurrent
// readers on the leader and on a follower of a 3-node in-process cluster.
func BenchmarkLinearizableRead(b *testing.B) {
	c := storetest.NewCluster(b, 3)
	leader := c.WaitForLeader()
	put(b, leader.Store, "k", "v")
	for _, nd := range c.Nodes() {
		role := "follower"
		if nd.ID == leader.ID {
			role = "leader"
		}
		b.Run(fmt.Sprintf("%s-%s/clients=100", nd.ID, role), func(b *testing.B) {
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range 100 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, _, err := read(context.Background(), nd.Store, store.Linearizable, "k"); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
		})
	}
}
