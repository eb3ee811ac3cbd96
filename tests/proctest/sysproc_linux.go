package proctest

import "syscall"

// sysProcAttr makes the kernel SIGKILL an agent when the process that
// started it dies, so a crashed or timed-out test binary leaves no orphans.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
