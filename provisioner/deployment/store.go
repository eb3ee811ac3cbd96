// Package deployment is what acting on one provisioned cluster needs,
// shared by `aerolith cluster create|scale|destroy` and the Terraform
// provider: the cluster's record and secrets in a state directory, the
// driver of its cloud and a provisioner over it, the user data of its
// nodes (join by address and a local CA for local clusters, discovery and
// enrollment on a cloud), raft removal before a node goes, the wait until
// the cluster is formed, and its registration in billing.
package deployment

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aerolithdb/aerolith/internal/atomicfile"
	"github.com/aerolithdb/aerolith/provisioner"
)

// The state directory of a deployment:
//
//	<state>/clusters/<name>.json          the spec and what create learned (0644)
//	<state>/clusters/<name>.secrets.json  admin key, enrollment token (0600)
//	<state>/clusters/<name>.lock          held while a command changes it
//	<state>/clusters/<name>/              its CA and certificates (local)
//	<state>/local/<name>/                 the local driver's instances
const EnvStateDir = "AEROLITH_STATE_DIR"

// DefaultStateDir is $AEROLITH_STATE_DIR, else $XDG_STATE_HOME/aerolith,
// else ~/.local/state/aerolith.
func DefaultStateDir() string {
	if d := os.Getenv(EnvStateDir); d != "" {
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

// Record is <name>.json: everything about a cluster but its secrets.
type Record struct {
	// Spec is the cluster's spec; its enrollment token is in the secrets
	// file, never here.
	Spec provisioner.ClusterSpec `json:"spec"`
	// Endpoint overrides the cloud's API endpoint (aws: a cloudsim).
	Endpoint string `json:"endpoint,omitempty"`
	// Project is the GCP project (gcp).
	Project string `json:"project,omitempty"`
	// InsecureHTTP: the nodes serve plain HTTP.
	InsecureHTTP bool `json:"insecure_http,omitempty"`
	// CAFile verifies the nodes (the local CA's certificate, or the
	// cluster CA billing holds).
	CAFile string `json:"ca_file,omitempty"`
	// Tenants served, with billing (Spec.Managed).
	Tenants []string `json:"tenants,omitempty"`
	// RegistrationPending: Spec.Managed's id and token are chosen and
	// saved, and billing has not answered their registration yet (the
	// create was interrupted); Begin registers them before anything else.
	RegistrationPending bool `json:"registration_pending,omitempty"`
	// AgentSettings are extra agent options (--agent-setting).
	AgentSettings map[string]string `json:"agent_settings,omitempty"`
	// Azure holds an Azure cluster's subscription and resource group.
	Azure   *AzureSettings `json:"azure,omitempty"`
	Created time.Time      `json:"created"`
}

// AzureSettings is what a record keeps of an Azure cluster.
type AzureSettings struct {
	Subscription string `json:"subscription"`
	// ResourceGroup is an existing group the cluster was made in; empty:
	// a group of its own, aerolith-NAME, deleted with the cluster.
	ResourceGroup string `json:"resource_group,omitempty"`
}

// Secrets is <name>.secrets.json.
type Secrets struct {
	AdminKey        string `json:"admin_key"`
	EnrollmentToken string `json:"enrollment_token,omitempty"`
	// TenantKeys are admin keys of tenants of a managed cluster that a
	// tool made for itself, by tenant (the Terraform provider reaches a
	// tenant's collections with them: the cluster admin key reaches no
	// tenant's data on a managed cluster).
	TenantKeys map[string]string `json:"tenant_keys,omitempty"`
}

// Store is a state directory. Two commands must not change one cluster at
// once: Lock serialises them.
type Store struct{ Dir string }

// ClustersDir holds the records.
func (s Store) ClustersDir() string { return filepath.Join(s.Dir, "clusters") }

// RecordPath is name's record file.
func (s Store) RecordPath(n string) string { return filepath.Join(s.ClustersDir(), n+".json") }

// SecretsPath is name's secrets file (0600).
func (s Store) SecretsPath(n string) string {
	return filepath.Join(s.ClustersDir(), n+".secrets.json")
}

// FilesDir holds name's CA and certificates.
func (s Store) FilesDir(n string) string { return filepath.Join(s.ClustersDir(), n) }

// LocalDir is the local driver's state directory.
func (s Store) LocalDir() string { return filepath.Join(s.Dir, "local") }

// ErrNoCluster is a name the state directory does not know.
var ErrNoCluster = errors.New("no such cluster")

// Load reads name's record and secrets.
func (s Store) Load(name string) (*Record, *Secrets, error) {
	b, err := os.ReadFile(s.RecordPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w: %q is not in %s (aerolith cluster list shows the clusters there; --state-dir picks another)", ErrNoCluster, name, s.ClustersDir())
	}
	if err != nil {
		return nil, nil, err
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.RecordPath(name), err)
	}
	var sec Secrets
	b, err = os.ReadFile(s.SecretsPath(name))
	if err != nil {
		return nil, nil, fmt.Errorf("secrets of %s: %w", name, err)
	}
	if err := json.Unmarshal(b, &sec); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.SecretsPath(name), err)
	}
	if rec.Spec.Managed != nil {
		rec.Spec.Managed.EnrollmentToken = sec.EnrollmentToken
	}
	return &rec, &sec, nil
}

// Save writes the secrets first (0600), then the record without them.
func (s Store) Save(rec *Record, sec *Secrets) error {
	if err := os.MkdirAll(s.ClustersDir(), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(sec, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.SecretsPath(rec.Spec.Name), append(b, '\n'), 0o600); err != nil {
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
	return atomicfile.Write(s.RecordPath(rec.Spec.Name), append(b, '\n'), 0o644)
}

// Remove deletes everything the store holds of name.
func (s Store) Remove(name string) error {
	for _, p := range []string{s.FilesDir(name), filepath.Join(s.LocalDir(), name), s.SecretsPath(name), s.RecordPath(name), filepath.Join(s.ClustersDir(), name+".lock")} {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}

// Names lists the clusters of the store, sorted.
func (s Store) Names() ([]string, error) {
	ents, err := os.ReadDir(s.ClustersDir())
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
