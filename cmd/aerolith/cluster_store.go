package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/aerolithdb/aerolith/internal/atomicfile"
	"github.com/aerolithdb/aerolith/provisioner"
)

// The state directory of `aerolith cluster create|list|show|scale|destroy`:
//
//	<state>/clusters/<name>.json          the spec and what create learned (0644)
//	<state>/clusters/<name>.secrets.json  admin key, enrollment token (0600)
//	<state>/clusters/<name>.lock          held while a command changes it
//	<state>/clusters/<name>/              its CA and certificates (local)
//	<state>/local/<name>/                 the local driver's instances
const envStateDir = "AEROLITH_STATE_DIR"

// defaultStateDir is $XDG_STATE_HOME/aerolith, else ~/.local/state/aerolith.
func defaultStateDir() string {
	if d := os.Getenv(envStateDir); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "aerolith")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "aerolith-state")
	}
	return filepath.Join(home, ".local", "state", "aerolith")
}

// clusterRecord is <name>.json: everything about a CLI-made cluster but its
// secrets.
type clusterRecord struct {
	// Spec is the cluster's spec; its enrollment token is in the secrets
	// file, never here.
	Spec provisioner.ClusterSpec `json:"spec"`
	// Endpoint overrides the cloud's API endpoint (aws: a cloudsim).
	Endpoint string `json:"endpoint,omitempty"`
	// InsecureHTTP: the nodes serve plain HTTP.
	InsecureHTTP bool `json:"insecure_http,omitempty"`
	// CAFile verifies the nodes (the local CA's certificate).
	CAFile string `json:"ca_file,omitempty"`
	// Tenants served, with billing (Spec.Managed).
	Tenants []string `json:"tenants,omitempty"`
	// AgentSettings are extra agent options (--agent-setting).
	AgentSettings map[string]string `json:"agent_settings,omitempty"`
	// Azure holds an Azure cluster's subscription and resource group.
	Azure   *azureSettings `json:"azure,omitempty"`
	Created time.Time      `json:"created"`
}

// clusterSecrets is <name>.secrets.json.
type clusterSecrets struct {
	AdminKey        string `json:"admin_key"`
	EnrollmentToken string `json:"enrollment_token,omitempty"`
}

type clusterStore struct{ dir string }

func (s clusterStore) clustersDir() string        { return filepath.Join(s.dir, "clusters") }
func (s clusterStore) recordPath(n string) string { return filepath.Join(s.clustersDir(), n+".json") }
func (s clusterStore) secretsPath(n string) string {
	return filepath.Join(s.clustersDir(), n+".secrets.json")
}
func (s clusterStore) filesDir(n string) string { return filepath.Join(s.clustersDir(), n) }
func (s clusterStore) localDir() string         { return filepath.Join(s.dir, "local") }

// errNoCluster is a name the state directory does not know.
var errNoCluster = errors.New("no such cluster")

func (s clusterStore) load(name string) (*clusterRecord, *clusterSecrets, error) {
	b, err := os.ReadFile(s.recordPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w: %q is not in %s (aerolith cluster list shows the clusters there; --state-dir picks another)", errNoCluster, name, s.clustersDir())
	}
	if err != nil {
		return nil, nil, err
	}
	var rec clusterRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.recordPath(name), err)
	}
	var sec clusterSecrets
	b, err = os.ReadFile(s.secretsPath(name))
	if err != nil {
		return nil, nil, fmt.Errorf("secrets of %s: %w", name, err)
	}
	if err := json.Unmarshal(b, &sec); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.secretsPath(name), err)
	}
	if rec.Spec.Managed != nil {
		rec.Spec.Managed.EnrollmentToken = sec.EnrollmentToken
	}
	return &rec, &sec, nil
}

// save writes the secrets first (0600), then the record without them.
func (s clusterStore) save(rec *clusterRecord, sec *clusterSecrets) error {
	if err := os.MkdirAll(s.clustersDir(), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(sec, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.secretsPath(rec.Spec.Name), append(b, '\n'), 0o600); err != nil {
		return err
	}
	c := *rec
	if m := c.Spec.Managed; m != nil {
		mc := *m
		mc.EnrollmentToken = ""
		c.Spec.Managed = &mc
	}
	if b, err = json.MarshalIndent(c, "", "  "); err != nil {
		return err
	}
	return atomicfile.Write(s.recordPath(rec.Spec.Name), append(b, '\n'), 0o644)
}

// remove deletes everything the store holds of name.
func (s clusterStore) remove(name string) error {
	for _, p := range []string{s.filesDir(name), filepath.Join(s.localDir(), name), s.secretsPath(name), s.recordPath(name), filepath.Join(s.clustersDir(), name+".lock")} {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// names lists the clusters of the store, sorted.
func (s clusterStore) names() ([]string, error) {
	ents, err := os.ReadDir(s.clustersDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && !strings.HasSuffix(n, ".secrets") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// lock takes the cluster's lock, so two commands never change one cluster
// at once; the kernel drops it when the process ends, killed or not.
func (s clusterStore) lock(name string) (func(), error) {
	if err := os.MkdirAll(s.clustersDir(), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(s.clustersDir(), name+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("cluster %s is being changed by another aerolith command (%v); wait for it to finish", name, err)
	}
	// The file stays: removing it would let a command waiting on the old
	// inode and one creating a new file both hold "the" lock.
	return func() { f.Close() }, nil
}
