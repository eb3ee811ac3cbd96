package local

import "syscall"

// sysProcAttr puts each supervised process in its own process group, so a
// Ctrl-C in the terminal reaches only the supervisor's process (which then
// stops the children in order), and has the kernel send SIGTERM to the child
// if the supervisor's process dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
