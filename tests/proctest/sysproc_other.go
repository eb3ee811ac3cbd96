//go:build !linux

package proctest

import "syscall"

// sysProcAttr returns nil: only Linux can tie a child's life to its parent;
// elsewhere Close (run by test cleanup) is what stops the agents.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// stopped cannot read a process's state here: ok is false.
func stopped(int) (isStopped, ok bool) { return false, false }
