package proctest

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
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

// ProcessCPU returns the CPU time (user + system) process pid has used, from
// /proc/<pid>/stat, in clock ticks of 10ms (USER_HZ is 100 on Linux).
func ProcessCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	// After the command: state (field 3) ... utime (14), stime (15).
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the command, want at least 13", pid, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}
