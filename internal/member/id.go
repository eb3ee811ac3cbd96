// Package member gives a raft node its identity and finds the members it
// joins: the node id persisted in the data directory (<data-dir>/node-id),
// and --join addresses resolved to raft addresses by probing
// /api/v1/cluster/self. The agent and the billing service both use it.
package member

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/aerolithdb/aerolith/internal/atomicfile"
)

// IDFile is the file in the data directory that remembers the node id.
const IDFile = "node-id"

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidID reports whether id may name a node: 1-64 characters of letters,
// digits, '.', '_' and '-', starting with a letter or digit.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// Identity says how a kind of node names itself.
type Identity struct {
	// Noun names the kind of node in errors ("node", "replica").
	Noun string
	// Prefix starts generated ids ("node-"); 12 random hex digits follow.
	Prefix string
}

// ResolveID returns the node id for dataDir. The id lives in
// <dataDir>/node-id: when configured is empty the stored id is used, or a
// new one is generated and stored on first start; when configured is set
// it must match the stored id (a data directory belongs to one node) and is
// stored on first start. Errors start with "node-id: ".
func (n Identity) ResolveID(dataDir, configured string) (string, error) {
	path := filepath.Join(dataDir, IDFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		stored := strings.TrimSpace(string(b))
		if !ValidID(stored) {
			return "", fmt.Errorf("node-id: %s holds an invalid id %q; fix or delete the file", path, stored)
		}
		if configured != "" && configured != stored {
			return "", fmt.Errorf("node-id: data dir %s belongs to %s %q, not %q; start with --node-id %s or use another --data-dir", dataDir, n.Noun, stored, configured, stored)
		}
		return stored, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("node-id: %w", err)
	}
	id := configured
	if id == "" {
		var r [6]byte
		if _, err := rand.Read(r[:]); err != nil {
			return "", fmt.Errorf("node-id: generate: %w", err)
		}
		id = n.Prefix + hex.EncodeToString(r[:])
	}
	if err := atomicfile.Write(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("node-id: store in %s: %w", dataDir, err)
	}
	return id, nil
}
