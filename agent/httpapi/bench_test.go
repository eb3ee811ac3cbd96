package httpapi

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// BenchmarkServe compares a stale document read of a tenant key on an
// unmanaged agent (plain) with the same read governed by a real
// quota.Enforcer (governed), metered through a buffered answer (metered),
// or both (managed).
func BenchmarkServe(b *testing.B) {
	for _, mode := range []string{"plain", "governed", "metered", "managed"} {
		b.Run(mode, func(b *testing.B) {
			e, key := newEnv(b), acmeKey
			if mode != "plain" {
				e, key = newManagedEnv(b, func(c *Config) {
					if mode == "metered" {
						c.Governor = nil
					}
					if mode == "governed" {
						c.Meter = nil
					}
				}).env, alphaRW
			}
			e.must(201, "PUT", "/api/v1/collections/c/documents/d", key, `{"data":{"name":"ada","n":1}}`)
			h := e.srv.Handler()
			b.Run("get", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, request(context.Background(), "GET", "/api/v1/collections/c/documents/d?consistency=stale", key, ""))
					if rec.Code != 200 {
						b.Fatalf("get = %d %s", rec.Code, rec.Body)
					}
				}
			})
			b.Run("put-parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(50) // 100 writers on 2 cores: writes coalesce as under load
				var n atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						rec := httptest.NewRecorder()
						id := n.Add(1) % 1000
						h.ServeHTTP(rec, request(context.Background(), "PUT", fmt.Sprintf("/api/v1/collections/c/documents/p%d", id), key, `{"data":{"name":"ada","n":1}}`))
						if rec.Code != 200 && rec.Code != 201 {
							b.Fatalf("put = %d %s", rec.Code, rec.Body)
						}
					}
				})
			})
		})
	}
}
