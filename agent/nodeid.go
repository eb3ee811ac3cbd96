package agent

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/aerolithdb/aerolith/agent/config"
)

// nodeIDFile is the file in the data directory that remembers the node id.
const nodeIDFile = "node-id"

// resolveNodeID returns the node id for dataDir. The id lives in
// <dataDir>/node-id: when configured is empty the stored id is used, or a
// new one is generated and stored on first start; when configured is set it
// must match the stored id (a data directory belongs to one node) and is
// stored on first start.
func resolveNodeID(dataDir, configured string) (string, error) {
	path := filepath.Join(dataDir, nodeIDFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		stored := strings.TrimSpace(string(b))
		if !config.ValidNodeID(stored) {
			return "", fmt.Errorf("node-id: %s holds an invalid id %q; fix or delete the file", path, stored)
		}
		if configured != "" && configured != stored {
			return "", fmt.Errorf("node-id: data dir %s belongs to node %q, not %q; start with --node-id %s or use another --data-dir", dataDir, stored, configured, stored)
		}
		return stored, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("node-id: %w", err)
	}
	id := configured
	if id == "" {
		id, err = generateNodeID()
		if err != nil {
			return "", err
		}
	}
	if err := writeFileAtomic(path, []byte(id+"\n")); err != nil {
		return "", fmt.Errorf("node-id: store in %s: %w", dataDir, err)
	}
	return id, nil
}

// generateNodeID returns "node-" and 12 random hex digits.
func generateNodeID() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("node-id: generate: %w", err)
	}
	return "node-" + hex.EncodeToString(b[:]), nil
}

// writeFileAtomic writes data to path through a synced temporary file and a
// rename, then syncs the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
