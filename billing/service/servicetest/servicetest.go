// Package servicetest holds the test-only seams of a billing service
// (package service) for tests in other packages, and runs one in process.
package servicetest

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/billing/service"
	"github.com/aerolithdb/aerolith/billing/service/internal/seam"
	"github.com/aerolithdb/aerolith/store"
	"github.com/aerolithdb/aerolith/store/storetest"
)

// Tune makes s call f on its store configuration just before Open creates
// the store, e.g. storetest.FastConfig to shorten raft timeouts. Call it
// before Open.
func Tune(s *service.Service, f func(*store.Config)) { seam.TuneStore(s, f) }

// Start runs a real billing replica in process over plain HTTP on
// loopback, with adminKey, fast raft timeouts and a data directory of the
// test's, and closes it when the test ends; mod, when set, changes its
// configuration first. It returns once the replica leads and its API
// answers ready (its address: s.HTTPAddr()).
func Start(t testing.TB, adminKey string, mod func(*service.Config)) *service.Service {
	t.Helper()
	cfg := service.Default()
	cfg.InsecureHTTP = true
	cfg.DataDir, cfg.HTTPAddr, cfg.RaftAddr = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0"
	cfg.AdminKeys = []string{adminKey}
	cfg.ScheduleInterval = 50 * time.Millisecond
	if mod != nil {
		mod(&cfg)
	}
	s, err := service.New(cfg, storetest.TestLogger())
	if err != nil {
		t.Fatal(err)
	}
	Tune(s, storetest.FastConfig)
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	storetest.Eventually(t, time.Minute, func() error {
		resp, err := http.Get("http://" + s.HTTPAddr() + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %d", resp.StatusCode)
		}
		return nil
	})
	return s
}
