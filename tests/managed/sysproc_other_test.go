//go:build !linux

package managed

import "syscall"

// sysProcAttr returns nil: only Linux ties a child's life to its parent.
func sysProcAttr() *syscall.SysProcAttr { return nil }
