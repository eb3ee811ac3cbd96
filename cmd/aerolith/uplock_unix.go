//go:build unix

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// lockUpDir takes <dir>/up.lock for this process, so that a second `up`
// on the same --data-dir stops at once naming the first, instead of
// starting processes that fail on the first one's locks (billing's audit
// log) with an error about a log file. The lock ends with the process.
func lockUpDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, "up.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			owner := "another process"
			if b, rerr := os.ReadFile(path); rerr == nil {
				if pid, perr := strconv.Atoi(string(bytes.TrimSpace(b))); perr == nil {
					owner = fmt.Sprintf("pid %d", pid)
				}
			}
			return nil, fmt.Errorf("--data-dir: %s is in use by another aerolith up (%s); stop it (Ctrl-C) or use another --data-dir", dir, owner)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}
