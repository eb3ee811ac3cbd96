package main

import "syscall"

// agentSysProcAttr puts each agent of `aerolith up` in its own process group,
// so a Ctrl-C in the terminal reaches only up (which then stops the agents in
// order), and has the kernel send SIGTERM to the agent if up dies first.
func agentSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
