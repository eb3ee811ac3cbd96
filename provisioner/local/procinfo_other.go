//go:build !linux

package local

import (
	"errors"
	"os"
	"syscall"
)

// Outside Linux the local driver cannot check a pid's command line, so it
// cannot tell its instances from recycled pids: it refuses to run.

var errUnsupported = errors.New("the local driver needs Linux (/proc)")

func lockFile(*os.File) error                { return errUnsupported }
func detachedProcAttr() *syscall.SysProcAttr { return nil }
func runsInstance(int, string) bool          { return false }
func findInstanceProcess(string) int         { return 0 }
