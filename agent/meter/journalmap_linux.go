package meter

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// Mapped journal sizes: the first mapping, and the most one growth adds
// (growth doubles the mapping up to that step). A small first mapping
// keeps idle nodes cheap; the step bounds one growth's cost while a busy
// window (docs/benchmarks.md has the sizing) grows in a few steps.
const (
	journalMapInitial = 1 << 20
	journalMapMaxStep = 64 << 20
)

// mapWriter appends records by copying them into a shared memory mapping
// of the file: no system call per record. The file's blocks are allocated
// (fallocate) before they are mapped, so a full disk is an error from
// append, never a SIGBUS on a store; a store that faults anyway (an I/O
// error) is turned into an error too (debug.SetPanicOnFault). Stores to a
// shared mapping are in the page cache at once, so a record survives a
// kill of the process exactly as a write(2) would.
type mapWriter struct {
	f    *os.File
	data []byte // the mapping of the file's first len(data) bytes
	off  int    // bytes appended
}

func newMapWriter(f *os.File) (journalWriter, error) {
	w := &mapWriter{f: f}
	if err := w.grow(journalMapInitial); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *mapWriter) append(rec []byte) error {
	if w.off+len(rec) > len(w.data) {
		step := min(max(len(w.data), journalMapInitial), journalMapMaxStep)
		if err := w.grow(len(w.data) + max(step, len(rec))); err != nil {
			return fmt.Errorf("meter: journal: %w", err)
		}
	}
	if err := storeNoFault(w.data[w.off:], rec); err != nil {
		return fmt.Errorf("meter: journal: %w", err)
	}
	w.off += len(rec)
	return nil
}

// grow allocates the file's blocks up to size bytes and maps them.
// fallocate or mmap being unsupported (EOPNOTSUPP, ENODEV) on a new file
// yields errNoMap.
func (w *mapWriter) grow(size int) error {
	fd := int(w.f.Fd())
	if err := unix.Fallocate(fd, 0, int64(len(w.data)), int64(size-len(w.data))); err != nil {
		if len(w.data) == 0 && (errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS)) {
			return fmt.Errorf("%w: fallocate: %v", errNoMap, err)
		}
		return fmt.Errorf("preallocating %d bytes: %w", size, err)
	}
	if w.data == nil {
		data, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EOPNOTSUPP) {
				return fmt.Errorf("%w: mmap: %v", errNoMap, err)
			}
			return fmt.Errorf("mapping %d bytes: %w", size, err)
		}
		w.data = data
		return nil
	}
	data, err := unix.Mremap(w.data, size, unix.MREMAP_MAYMOVE)
	if err != nil {
		return fmt.Errorf("remapping to %d bytes: %w", size, err)
	}
	w.data = data
	return nil
}

// storeNoFault copies src to the start of dst, returning a memory fault
// (SIGBUS from an I/O error behind the mapping) as an error.
func storeNoFault(dst, src []byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fault storing into the mapped file: %v", r)
		}
	}()
	copy(dst, src)
	return nil
}

// close unmaps the file and, with trim, cuts it to the records appended.
func (w *mapWriter) close(trim bool) error {
	var errs []error
	if w.data != nil {
		if err := unix.Munmap(w.data); err != nil {
			errs = append(errs, fmt.Errorf("munmap: %w", err))
		}
		w.data = nil
	}
	if trim {
		if err := w.f.Truncate(int64(w.off)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := w.f.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
