//go:build !linux

package proctest

import (
	"errors"
	"syscall"
	"time"
)

// sysProcAttr returns nil: only Linux can tie a child's life to its parent;
// elsewhere Close (run by test cleanup) is what stops the agents.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// stopped cannot read a process's state here: ok is false.
func stopped(int) (isStopped, ok bool) { return false, false }

// ProcessCPU is not available here.
func ProcessCPU(pid int) (time.Duration, error) {
	return 0, errors.New("process CPU time: only on Linux")
}
