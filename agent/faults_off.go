//go:build !faults

package agent

import "log/slog"

// faultsEnabled reports whether this binary was built with fault injection
// (build tag faults); release builds are not.
const faultsEnabled = false

func startFaults(*slog.Logger, *isolator) (stop func()) { return func() {} }
