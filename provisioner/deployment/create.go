package deployment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/provisioner"
)

// Create is a new cluster to record (Begin).
type Create struct {
	// Record is the new cluster's record: its spec (validated, defaults
	// applied; Managed unset, Register sets it), endpoint, TLS choice,
	// agent settings.
	Record Record
	// Billing and Registration, when Billing is set, register the cluster
	// in billing before anything is launched.
	Billing      *billingclient.Client
	Registration Registration
}

// ErrExists is a Begin finding a different cluster under the name.
var ErrExists = errors.New("cluster already exists")

// Begin records a new cluster in the store, or finds the one an
// interrupted create left (then resumed is true), so a rerun never makes a
// second cluster: a random admin key, the registration in billing (its id
// and token saved before billing is asked, and asked again by a rerun
// until it answered, which registers the same cluster; see
// PrepareRegistration), and for a local cluster with TLS its CA. The caller holds the cluster's Lock. newEnv builds the Env
// (the caller's local command, progress and user agent).
func (s Store) Begin(ctx context.Context, c Create, newEnv func(*Record, *Secrets) (*Env, error)) (env *Env, resumed bool, err error) {
	name := c.Record.Spec.Name
	rec, sec, err := s.Load(name)
	switch {
	case errors.Is(err, ErrNoCluster):
		r := c.Record
		rec, sec = &r, &Secrets{}
		if rec.Created.IsZero() {
			rec.Created = time.Now().UTC()
		}
		if sec.AdminKey, err = RandomKey(); err != nil {
			return nil, false, err
		}
		if c.Billing != nil {
			if err := PrepareRegistration(c.Registration, rec, sec); err != nil {
				return nil, false, err
			}
		}
		if err := s.Save(rec, sec); err != nil {
			return nil, false, err
		}
	case err != nil:
		return nil, false, err
	default:
		if rec.Spec.Cloud != c.Record.Spec.Cloud || rec.Spec.Nodes != c.Record.Spec.Nodes {
			return nil, false, fmt.Errorf("%w: %s (%s, %d nodes) in %s", ErrExists, name, rec.Spec.Cloud, rec.Spec.Nodes, s.ClustersDir())
		}
		resumed = true
	}
	if rec.RegistrationPending {
		if c.Billing == nil {
			return nil, resumed, fmt.Errorf("%s: its registration in billing (as %s) did not finish: create it again with billing (its URL and admin key)", name, rec.Spec.Managed.ClusterID)
		}
		if err := Register(ctx, c.Billing, s, rec, sec); err != nil {
			if !resumed && refused(err) {
				// Billing said no to this create's own registration, so
				// nothing was registered: the record would only stand
				// in the way of the next create under the name.
				if rerr := s.forget(name); rerr != nil {
					return nil, resumed, errors.Join(err, rerr)
				}
			}
			return nil, resumed, err
		}
		if err := s.Save(rec, sec); err != nil {
			return nil, resumed, err
		}
	}
	if env, err = newEnv(rec, sec); err != nil {
		return nil, resumed, err
	}
	if rec.Spec.Cloud == provisioner.Local && !rec.InsecureHTTP {
		if _, err := env.EnsureCA(); err != nil {
			return nil, resumed, err
		}
		if err := s.Save(rec, sec); err != nil {
			return nil, resumed, err
		}
		if env, err = newEnv(rec, sec); err != nil {
			return nil, resumed, err
		}
	}
	return env, resumed, nil
}

// Converge applies the spec (launching, relaunching or removing nodes)
// and waits until the cluster is formed; report gets progress lines.
//
// On a local cluster it fails as soon as a node's agent crash-loops (an
// error wrapping local.ErrCrashLoop that names the node and ends with the
// agent's own last words), rather than when ctx ends: an agent that exits
// at once on a bad setting is restarted forever and never answers.
func (e *Env) Converge(ctx context.Context, report func(string)) (*provisioner.Status, error) {
	// Watched from before the launch, so a new node's first runs count.
	crashes := e.watchCrashes()
	if _, err := e.Prov.Apply(ctx, &e.Rec.Spec); err != nil {
		return nil, err
	}
	if err := e.waitHealthy(ctx, report, crashes); err != nil {
		return nil, err
	}
	return e.Prov.Read(ctx, &e.Rec.Spec)
}

// RandomKey is a new random secret (48 hex digits), e.g. an admin key.
func RandomKey() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// refused tells a registration billing answered with a refusal (bad
// input, a key that may not, an unknown tenant) from one whose fate is
// unknown (no answer, 5xx), after which billing may have registered it.
func refused(err error) bool {
	return billingclient.IsInvalidArgument(err) || billingclient.IsPermissionDenied(err) ||
		billingclient.IsUnauthenticated(err) || billingclient.IsNotFound(err) || billingclient.IsConflict(err)
}

// forget removes name's record, secrets and files but not its lock
// file, which the caller holds (see Lock).
func (s Store) forget(name string) error {
	for _, p := range []string{s.FilesDir(name), s.SecretsPath(name), s.RecordPath(name)} {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	return nil
}
