package managed

import "syscall"

// sysProcAttr makes the kernel SIGKILL the billing process when the test
// process dies, so a crashed test leaves no orphans.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
