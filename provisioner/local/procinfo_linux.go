package local

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// lockFile takes an exclusive lock on f, failing at once when another
// process holds it; the kernel drops it when the process exits.
func lockFile(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }

// detachedProcAttr starts an instance process in its own session: no
// terminal signal and no death of the launching command reaches it.
func detachedProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// runsInstance reports whether process pid runs with dir as one of its
// arguments (a zombie's command line is empty).
func runsInstance(pid int, dir string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	for _, arg := range bytes.Split(b, []byte{0}) {
		if string(arg) == dir {
			return true
		}
	}
	return false
}

// findInstanceProcess scans the processes for one whose arguments name dir.
func findInstanceProcess(dir string) int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if runsInstance(pid, dir) {
			return pid
		}
	}
	return 0
}
