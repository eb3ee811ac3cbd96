package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/agent/meter"
	"github.com/aerolithdb/aerolith/agent/policy"
	"github.com/aerolithdb/aerolith/agent/quota"
	"github.com/aerolithdb/aerolith/agent/quota/quotatest"
	"github.com/aerolithdb/aerolith/agent/tenancy"
	"github.com/aerolithdb/aerolith/billing/contract"
)

// Tenant keys of the managed test agent: two tenants, alpha and beta.
const (
	alphaRead  = "alpha-read-key"
	alphaRW    = "alpha-rw-key"
	alphaAdmin = "alpha-admin-key"
	betaRW     = "beta-rw-key"
	betaAdmin  = "beta-admin-key"
	// noPolicyRW is a key of a tenant billing was never reached for.
	noPolicyRW = "gamma-rw-key"
)

var epoch = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func tenantKeys() staticKeys {
	return staticKeys{
		alphaRead:  {Tenant: "alpha", Role: auth.RoleRead, KeyID: "ka-r"},
		alphaRW:    {Tenant: "alpha", Role: auth.RoleReadWrite, KeyID: "ka-rw"},
		alphaAdmin: {Tenant: "alpha", Role: auth.RoleAdmin, KeyID: "ka-adm"},
		betaRW:     {Tenant: "beta", Role: auth.RoleReadWrite, KeyID: "kb-rw"},
		betaAdmin:  {Tenant: "beta", Role: auth.RoleAdmin, KeyID: "kb-adm"},
		noPolicyRW: {Tenant: "gamma", Role: auth.RoleReadWrite, KeyID: "kg-rw"},
	}
}

// roomy is a policy whose limits no test reaches; tests lower the one
// they exercise.
func roomy(tenant string, action contract.QuotaAction) contract.Policy {
	return contract.Policy{
		Tenant: tenant, Tier: "test", Status: contract.StatusActive, QuotaAction: action,
		Limits: contract.Limits{
			StorageBytes: 1 << 40, APICallsPerDay: 1 << 40, APICallsPerHour: 1 << 40,
			RequestsPerSecond: 1 << 30, ConcurrentConnections: 1 << 20, MaxQueryDuration: time.Minute,
			MaxCollections: 1 << 30, MaxDocumentsPerCollection: 1 << 40, RetentionDays: 30,
		},
		Version: 1, IssuedAt: epoch,
	}
}

// fakeGovernor hands out real enforcers on a fake clock; tenants without
// one have no policy.
type fakeGovernor struct {
	clock *quotatest.Clock
	mu    sync.Mutex
	enf   map[string]*quota.Enforcer
	err   error // returned for every tenant when set
}

func newGovernor() *fakeGovernor {
	return &fakeGovernor{clock: quotatest.NewClock(epoch), enf: map[string]*quota.Enforcer{}}
}

func (g *fakeGovernor) set(t testing.TB, p contract.Policy) *quota.Enforcer {
	t.Helper()
	e, err := quota.New(quota.Config{Policy: p, Clock: g.clock, MaxDelay: 2 * time.Second})
	if err != nil {
		t.Fatalf("quota.New: %v", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.enf[p.Tenant] = e
	return e
}

func (g *fakeGovernor) Enforcer(tenant string) (*quota.Enforcer, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return nil, g.err
	}
	e, ok := g.enf[tenant]
	if !ok {
		return nil, fmt.Errorf("tenant %s: %w", tenant, policy.ErrNoPolicy)
	}
	return e, nil
}

// meterCall is one Record.
type meterCall struct {
	tenant string
	u      meter.Usage
}

// fakeMeter records what it is given.
type fakeMeter struct {
	mu       sync.Mutex
	calls    []meterCall
	fail     error
	notReady error         // what Ready returns
	hold     chan struct{} // when set, RecordApplied waits for it to close, then records
	holding  chan struct{} // RecordApplied sends on it (if set) when it starts waiting
	onRecord func()        // called inside Record
}

func (m *fakeMeter) Ready() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.notReady
}

// RecordApplied is Record, after hold (if set) closed: a real meter
// holds the usage of an applied request until it can record it.
func (m *fakeMeter) RecordApplied(ctx context.Context, tenant string, u meter.Usage) error {
	m.mu.Lock()
	hold, holding := m.hold, m.holding
	m.mu.Unlock()
	if hold != nil {
		if holding != nil {
			holding <- struct{}{}
		}
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return m.Record(tenant, u)
}

func (m *fakeMeter) Record(tenant string, u meter.Usage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.onRecord != nil {
		m.onRecord()
	}
	if m.fail != nil {
		return m.fail
	}
	m.calls = append(m.calls, meterCall{tenant, u})
	return nil
}

// setFail makes Record fail with err, and Ready too (nil: both succeed).
func (m *fakeMeter) setFail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail, m.notReady = err, err
}

// take returns the calls recorded since the last take.
func (m *fakeMeter) take() []meterCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.calls
	m.calls = nil
	return c
}

// managedEnv is a managed agent over a real store, with tenants alpha and
// beta on roomy block policies (tests replace them) and no policy for gamma.
type managedEnv struct {
	*env
	gov   *fakeGovernor
	meter *fakeMeter
}

func newManagedEnv(t testing.TB, mods ...func(*Config)) *managedEnv {
	return newManagedEnvDocs(t, document.Config{MaxDocumentBytes: maxDoc}, mods...)
}

// dispatcher routes tenancy commands to the tenancy state machine and the
// rest to the document one, as the agent does.
type dispatcher struct {
	docs    *document.StateMachine
	tenancy *tenancy.StateMachine
}

func (d dispatcher) Apply(tx *bolt.Tx, index uint64, cmd []byte) []byte {
	if len(cmd) > 0 && cmd[0] == tenancy.CommandTag {
		return d.tenancy.Apply(tx, index, cmd)
	}
	return d.docs.Apply(tx, index, cmd)
}

// newManagedEnvDocs is a managed agent whose document state machine is
// configured by dcfg. Tenant keys come from tenantKeys and from the real
// tenancy keys (Config.Keys creates them).
func newManagedEnvDocs(t testing.TB, dcfg document.Config, mods ...func(*Config)) *managedEnv {
	t.Helper()
	gov := newGovernor()
	gov.set(t, roomy("alpha", contract.Block))
	gov.set(t, roomy("beta", contract.Block))
	m := &fakeMeter{}
	sm := dispatcher{docs: document.NewStateMachine(dcfg), tenancy: tenancy.NewStateMachine()}
	e := newEnvSM(t, sm, append([]func(*Config){func(c *Config) {
		c.Auth = auth.Chain{tenancy.NewAuthenticator(c.Store, nil), tenantKeys(), mustAdminKey(t)} // the agent's order
		c.Managed = true
		c.Governor = gov
		c.Meter = m
		c.Keys = tenancy.NewKeys(c.Store, c.Store)
	}}, mods...)...)
	return &managedEnv{env: e, gov: gov, meter: m}
}

// serve sends req through the handler and records the answer.
func (e *env) serve(req *http.Request) resp {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, req)
	return resp{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// request builds a request with key as bearer key.
func request(ctx context.Context, method, path, key, body string) *http.Request {
	var req *http.Request
	if body != "" {
		req = httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
	} else {
		req = httptest.NewRequestWithContext(ctx, method, path, nil)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return req
}

var errDiskFull = errors.New("journal write: no space left on device")
