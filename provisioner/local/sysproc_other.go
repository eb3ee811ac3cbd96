//go:build !linux

package local

import "syscall"

// sysProcAttr returns no special process attributes: outside Linux the
// children share the supervisor's process group and are stopped by it.
func sysProcAttr() *syscall.SysProcAttr { return nil }
