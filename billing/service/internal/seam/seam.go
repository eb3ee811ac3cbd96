// Package seam carries the billing service's test hooks from package
// service, which sets them at init, to package servicetest, which calls
// them. Being internal to billing/service, it keeps the hooks out of the
// service's exported API.
package seam

import "github.com/aerolithdb/aerolith/store"

// TuneStore makes s, a *service.Service before Open, call f on its store
// configuration just before the store is created.
var TuneStore func(s any, f func(*store.Config))
