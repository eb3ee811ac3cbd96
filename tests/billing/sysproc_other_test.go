//go:build !linux

package billing

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
