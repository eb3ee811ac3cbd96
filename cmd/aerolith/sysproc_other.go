//go:build !linux

package main

import "syscall"

// agentSysProcAttr returns no special process attributes: outside Linux the
// agents of `aerolith up` share its process group and are stopped by up.
func agentSysProcAttr() *syscall.SysProcAttr { return nil }
