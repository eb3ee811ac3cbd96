package billing

import "syscall"

// sysProcAttr makes the kernel SIGKILL a replica when the test process
// dies, so a crashed test leaves no orphans.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
