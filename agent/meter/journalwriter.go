package meter

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// journalWriter appends records to the file of one journal generation.
type journalWriter interface {
	// append adds rec at the end of the file. Once it returned nil the
	// record is in the kernel's page cache: it survives the death of the
	// process, not a power loss (the window close fsyncs the file).
	append(rec []byte) error
	// close releases the file. With trim, the file then holds exactly
	// the records appended (a mapped file's unused preallocated tail is
	// cut off); without (a simulated crash), or if cutting fails, replay
	// reads the zero tail as the end.
	close(trim bool) error
}

// errNoMap: the file system or platform cannot back a mapped journal
// (fallocate or shared mappings unsupported); createJournal falls back to
// the write(2) writer.
var errNoMap = errors.New("journal: memory-mapped file not supported here")

// createJournal creates the (new) file of generation gen. With mapped it
// is a memory-mapped, preallocated file (mapWriter; Record costs no
// system call) where the platform and file system support it, else, and
// without mapped, an append-only file written with one write(2) per
// record (fileWriter).
func createJournal(dir string, gen uint64, mapped bool) (journalWriter, error) {
	path := filepath.Join(dir, journalName(gen))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("meter: journal: %w", err)
	}
	if mapped {
		w, err := newMapWriter(f)
		if err == nil {
			return w, nil
		}
		if !errors.Is(err, errNoMap) {
			f.Close()
			os.Remove(path)
			return nil, fmt.Errorf("meter: journal %s: %w", path, err)
		}
	}
	return &fileWriter{f: f}, nil
}

// fileWriter appends each record with one write(2), no fsync. A write cut
// short (by a crash, or a full disk) leaves a torn record at the end,
// which replay skips; the journal then rotates so nothing follows it.
type fileWriter struct {
	f *os.File
}

func (w *fileWriter) append(rec []byte) error {
	if _, err := w.f.Write(rec); err != nil {
		return fmt.Errorf("meter: journal: %w", err)
	}
	return nil
}

func (w *fileWriter) close(bool) error { return w.f.Close() }
