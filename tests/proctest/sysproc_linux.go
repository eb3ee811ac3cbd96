package proctest

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// sysProcAttr makes the kernel SIGKILL an agent when the process that
// started it dies, so a crashed or timed-out test binary leaves no orphans.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// stopped reports whether process pid is stopped by a signal (state T in
// /proc/<pid>/stat): SIGSTOP takes effect asynchronously, after kill(2)
// returned. ok is false when the state cannot be read.
func stopped(pid int) (isStopped, ok bool) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false, false
	}
	// The state follows the command name, which is in parentheses and
	// may itself contain spaces or parentheses.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 || i+2 >= len(raw) {
		return false, false
	}
	st := raw[i+2]
	return st == 'T' || st == 't', true
}
