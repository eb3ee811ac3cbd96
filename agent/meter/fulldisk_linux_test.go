package meter

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// tmpfsDir mounts a tmpfs of size bytes on a new directory, unmounted at
// the end of the test. It skips the test where mounting is not allowed
// (not root, no CAP_SYS_ADMIN).
func tmpfsDir(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillDisk writes a file in dir until the file system is full and returns
// its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	for { // the last partial page
		if _, err := f.Write(buf[:1]); err != nil {
			break
		}
	}
	return path
}

// TestFullDiskBillsAppliedWrites fills the file system under the meter's
// data directory while requests are recorded, for both journal writers.
// Once the journal cannot take a record, the meter is not ready (the HTTP
// layer refuses writes before applying them); the usage of a write that
// was applied anyway (admitted just before) is held and RecordApplied
// returns only once disk space is back; every usage Record or
// RecordApplied accepted is billed, once. On the old code the write was
// answered 503 and never billed.
func TestFullDiskBillsAppliedWrites(t *testing.T) {
	for _, plain := range []bool{false, true} {
		t.Run(map[bool]string{false: "mapped", true: "plain"}[plain], func(t *testing.T) {
			dir := tmpfsDir(t, "8m")
			snd := &collectSender{}
			m := newTestMeter(t, dir, snd, nil)
			m.jour.plainWrites = plain
			if err := m.Open(t.Context()); err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			var recorded uint64
			for range 100 {
				mustRecord(t, m, "a", Usage{Reads: 1})
				recorded++
			}
			filler := fillDisk(t, dir)
			for {
				if err := m.Record("a", Usage{Reads: 1}); err != nil {
					break
				}
				recorded++
				if recorded > 10_000_000 {
					t.Fatal("the journal never filled the disk")
				}
			}
			if err := m.Ready(); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Ready on a full disk = %v, want ErrUnavailable", err)
			}
			done := make(chan error, 1)
			go func() { done <- m.RecordApplied(t.Context(), "a", Usage{Writes: 1}) }()
			waitHeld(t, m, 1, done)
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("RecordApplied once space is back = %v", err)
			}
			if err := m.Ready(); err != nil {
				t.Fatalf("Ready once space is back = %v", err)
			}
			flush(t, m)
			if got := snd.total()["a"]; got.Reads != recorded || got.Writes != 1 {
				t.Fatalf("billed %+v, want %d reads and the applied write", got, recorded)
			}
			t.Logf("%d records journaled before the disk was full", recorded)
		})
	}
}
