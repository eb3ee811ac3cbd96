package service

import (
	"github.com/aerolithdb/aerolith/billing/service/internal/seam"
	"github.com/aerolithdb/aerolith/store"
)

// The test hooks of a Service reach servicetest through package seam
// (internal to billing/service), so they are no part of this package's API.
func init() {
	seam.TuneStore = func(s any, f func(*store.Config)) { s.(*Service).tune = f }
}
