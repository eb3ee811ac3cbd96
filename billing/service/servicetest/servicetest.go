// Package servicetest holds the test-only seams of a billing service
// (package service) for tests in other packages.
package servicetest

import (
	"github.com/aerolithdb/aerolith/billing/service"
	"github.com/aerolithdb/aerolith/billing/service/internal/seam"
	"github.com/aerolithdb/aerolith/store"
)

// Tune makes s call f on its store configuration just before Open creates
// the store, e.g. storetest.FastConfig to shorten raft timeouts. Call it
// before Open.
func Tune(s *service.Service, f func(*store.Config)) { seam.TuneStore(s, f) }
