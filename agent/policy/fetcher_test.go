package policy_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/policy"
	"github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/service"
	"github.com/aerolithdb/aerolith/billing/service/servicetest"
	"github.com/aerolithdb/aerolith/internal/audit"
	"github.com/aerolithdb/aerolith/internal/audit/audittest"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/store/storetest"
)

const adminKey = "policy-test-admin-key-0123456789"

// memStore is a Store in memory that counts saves.
type memStore struct {
	mu    sync.Mutex
	m     map[string]contract.SignedPolicy
	saves int
}

var _ policy.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{m: make(map[string]contract.SignedPolicy)} }

func (s *memStore) Save(_ context.Context, tenant string, sp contract.SignedPolicy) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[tenant] = sp
	s.saves++
	return nil
}

func (s *memStore) Load(_ context.Context, tenant string) (contract.SignedPolicy, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.m[tenant]
	return sp, ok, nil
}

// billing is a real billing service with one tenant and an enrolled
// cluster.
type billing struct {
	svc    *service.Service
	admin  *client.Client
	tenant string
	token  string
	url    string
}

func startBilling(t *testing.T) *billing {
	t.Helper()
	cfg := service.Default()
	cfg.InsecureHTTP = true // plain HTTP in-process
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.RaftAddr = "127.0.0.1:0"
	cfg.AdminKeys = []string{adminKey}
	s, err := service.New(cfg, storetest.TestLogger())
	if err != nil {
		t.Fatal(err)
	}
	servicetest.Tune(s, storetest.FastConfig)
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	url := "http://" + s.HTTPAddr()
	admin, err := client.New(client.Config{URL: url, Key: adminKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	testwait.For(t, time.Minute, "billing ready", func() error {
		_, _, err := admin.PublicKey(ctx) // the scheduler set the signing key
		return err
	})
	ten, err := admin.CreateTenant(ctx, client.TenantRequest{Organization: "Acme", Name: "acme", Tier: "starter", Email: "ap@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	enr, err := admin.RegisterCluster(ctx, "", []string{ten.ID})
	if err != nil {
		t.Fatal(err)
	}
	return &billing{svc: s, admin: admin, tenant: ten.ID, token: enr.EnrollmentToken, url: url}
}

// proxy stands between the Fetcher and billing and can alter answers.
type proxy struct {
	target string
	mode   atomic.Value // func(path string, body []byte) []byte, or nil to pass
	srv    *httptest.Server
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{target: target}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		status := http.StatusOK
		f, _ := p.mode.Load().(func(string, []byte) []byte)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), nil)
		req.Header.Set("Authorization", r.Header.Get("Authorization"))
		resp, err := http.DefaultClient.Do(req)
		switch {
		case err == nil:
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
		case f == nil: // billing down and nothing to answer in its place
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if f != nil {
			body, status = f(r.URL.Path, body), http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *proxy) set(f func(path string, body []byte) []byte) { p.mode.Store(f) }

// newFetcher makes a Fetcher talking to url that does not retry.
func newFetcher(t *testing.T, url, token, tenant string, store policy.Store, pin ed25519.PublicKey, onChange func(contract.Policy), mods ...func(*policy.Config)) *policy.Fetcher {
	t.Helper()
	c, err := client.New(client.Config{URL: url, Key: token, MaxRetries: -1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg := policy.Config{Client: c, Tenants: []string{tenant}, Store: store, PublicKey: pin,
		Refresh: 100 * time.Millisecond, Jitter: 30 * time.Millisecond, OnChange: onChange, Logger: storetest.TestLogger()}
	for _, m := range mods {
		m(&cfg)
	}
	f, err := policy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func waitPolicy(t *testing.T, f *policy.Fetcher, tenant, what string, ok func(contract.Policy) bool) contract.Policy {
	t.Helper()
	var got contract.Policy
	testwait.For(t, time.Minute, what, func() error {
		p, err := f.Policy(tenant)
		if err != nil {
			return err
		}
		if !ok(p) {
			return fmt.Errorf("policy is %s/%s v%d", p.Tier, p.Status, p.Version)
		}
		got = p
		return nil
	})
	return got
}

// signedWith re-signs the policy in body with key after mod.
func signedWith(t *testing.T, key ed25519.PrivateKey, body []byte, mod func(*contract.Policy)) []byte {
	var sp contract.SignedPolicy
	if err := json.Unmarshal(body, &sp); err != nil {
		t.Errorf("proxy: %v", err)
		return body
	}
	var p contract.Policy
	if err := json.Unmarshal(sp.Payload, &p); err != nil {
		t.Errorf("proxy: %v", err)
		return body
	}
	mod(&p)
	out, err := contract.SignPolicy(p, key)
	if err != nil {
		t.Errorf("proxy: %v", err)
	}
	b, _ := json.Marshal(out)
	return b
}

func TestFetcherAgainstBilling(t *testing.T) {
	b := startBilling(t)
	ctx := context.Background()
	px := newProxy(t, b.url)
	store := newMemStore()
	var changes atomic.Int64
	rec := &audittest.Recorder{}
	f := newFetcher(t, px.srv.URL, b.token, b.tenant, store, nil, func(contract.Policy) { changes.Add(1) },
		func(c *policy.Config) { c.Audit = rec })

	if _, err := f.Policy(b.tenant); !errors.Is(err, policy.ErrNoPolicy) {
		t.Fatalf("Policy before any fetch = %v, want ErrNoPolicy", err)
	}
	if err := f.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// Fetch.
	p := waitPolicy(t, f, b.tenant, "first fetch", func(p contract.Policy) bool { return p.Tier == "starter" })
	if p.Status != contract.StatusActive || p.Limits.RequestsPerSecond != 10 || p.Tenant != b.tenant {
		t.Fatalf("first policy = %+v", p)
	}
	store.mu.Lock()
	_, saved := store.m[b.tenant]
	store.mu.Unlock()
	// OnChange runs just after the policy is published; wait for it, then
	// check it ran exactly once.
	testwait.For(t, time.Minute, "OnChange after first fetch", func() error {
		if changes.Load() == 0 {
			return errors.New("OnChange not called yet")
		}
		return nil
	})
	if !saved || changes.Load() != 1 {
		t.Fatalf("after first fetch: saved %v, OnChange calls %d; want saved, 1", saved, changes.Load())
	}
	oldBody, err := json.Marshal(mustPolicy(t, b, px.srv.URL))
	if err != nil {
		t.Fatal(err)
	}

	// Tampered: a payload altered to grant a bigger tier (and a higher
	// version, so only the signature can stop it) is rejected and never
	// applied.
	px.set(func(path string, body []byte) []byte {
		if !strings.HasSuffix(path, "/policy") {
			return body
		}
		var sp contract.SignedPolicy
		json.Unmarshal(body, &sp)
		s := strings.Replace(string(sp.Payload), `"tier":"starter"`, `"tier":"enterprise"`, 1)
		s = strings.Replace(s, `"version":`, `"version":99`, 1)
		sp.Payload = json.RawMessage(s)
		out, _ := json.Marshal(sp)
		return out
	})
	if err := f.Refresh(ctx); !errors.Is(err, contract.ErrBadSignature) {
		t.Fatalf("Refresh of tampered policy = %v, want ErrBadSignature", err)
	}
	// Signed by another key (a swapped billing endpoint): rejected too.
	_, foreign, _ := ed25519.GenerateKey(nil)
	px.set(func(path string, body []byte) []byte {
		if !strings.HasSuffix(path, "/policy") {
			return body
		}
		return signedWith(t, foreign, body, func(p *contract.Policy) { p.Tier = "enterprise"; p.Version += 100 })
	})
	if err := f.Refresh(ctx); !errors.Is(err, contract.ErrBadSignature) {
		t.Fatalf("Refresh of foreign-signed policy = %v, want ErrBadSignature", err)
	}
	if p, _ := f.Current(b.tenant); p.Tier != "starter" || f.Status().Rejected < 2 {
		t.Fatalf("after rejections: policy %s, rejected %d; want starter, >= 2", p.Tier, f.Status().Rejected)
	}
	px.set(nil)

	// Refresh picks up a tier change.
	if _, err := b.admin.SetTier(ctx, b.tenant, "professional"); err != nil {
		t.Fatal(err)
	}
	p = waitPolicy(t, f, b.tenant, "tier change", func(p contract.Policy) bool { return p.Tier == "professional" })
	if p.Limits.RequestsPerSecond != 100 {
		t.Fatalf("professional policy limits = %+v", p.Limits)
	}

	// A replayed older answer (validly signed) is rejected as stale.
	px.set(func(path string, body []byte) []byte {
		if strings.HasSuffix(path, "/policy") {
			return oldBody
		}
		return body
	})
	if err := f.Refresh(ctx); !errors.Is(err, policy.ErrStale) {
		t.Fatalf("Refresh of replayed policy = %v, want ErrStale", err)
	}
	if p, _ := f.Current(b.tenant); p.Tier != "professional" {
		t.Fatalf("after replay: tier %s, want professional", p.Tier)
	}
	// Each distinct rejection is in the audit log, once, without the token.
	var reasons []string
	for _, e := range rec.Actions(policy.ActionRejected) {
		if e.Target != "tenant:"+b.tenant || e.Outcome != audit.OutcomeDenied {
			t.Errorf("policy.rejected event = %+v", e)
		}
		if strings.Contains(fmt.Sprint(e), b.token) {
			t.Errorf("policy.rejected event holds the enrollment token: %+v", e)
		}
		reasons = append(reasons, e.Detail["reason"])
	}
	if r := strings.Join(reasons, "\n"); len(reasons) < 2 || len(reasons) > 4 || !strings.Contains(r, "signature") || !strings.Contains(r, "older") {
		t.Errorf("policy.rejected reasons = %q, want the bad-signature and stale rejections, each distinct one once", reasons)
	}
	px.set(nil)

	// Refresh picks up a suspension.
	if _, err := b.admin.SuspendTenant(ctx, b.tenant, ""); err != nil {
		t.Fatal(err)
	}
	waitPolicy(t, f, b.tenant, "suspension", func(p contract.Policy) bool { return p.Status == contract.StatusSuspended })

	// Billing stopped: refreshes fail, the last good policy is served.
	b.svc.Close()
	testwait.For(t, time.Minute, "refresh failing", func() error {
		if f.Status().LastErr == nil {
			return errors.New("refresh still succeeds")
		}
		return nil
	})
	if err := f.Refresh(ctx); err == nil {
		t.Fatal("Refresh with billing stopped succeeded")
	}
	if p, err := f.Policy(b.tenant); err != nil || p.Status != contract.StatusSuspended || p.Tier != "professional" {
		t.Fatalf("Policy during outage = %+v, %v; want the last good (professional, suspended)", p, err)
	}
	f.Close()

	// Restart: a new Fetcher with the same Store serves the stored policy
	// while billing is still down.
	f2 := newFetcher(t, px.srv.URL, b.token, b.tenant, store, nil, nil)
	if err := f2.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	if p, err := f2.Policy(b.tenant); err != nil || p.Status != contract.StatusSuspended || p.Tier != "professional" {
		t.Fatalf("Policy after restart = %+v, %v; want the stored one", p, err)
	}
	// Trust on first use after restart: an endpoint serving another key
	// is refused, the stored policy stays.
	px.set(func(path string, body []byte) []byte {
		if strings.HasSuffix(path, "/public-key") {
			pub := foreign.Public().(ed25519.PublicKey)
			out, _ := json.Marshal(map[string]any{"algorithm": "ed25519", "key_id": contract.KeyID(pub), "public_key": []byte(pub)})
			return out
		}
		return signedWith(t, foreign, []byte(`{"policy":{}}`), func(p *contract.Policy) {})
	})
	if err := f2.Refresh(ctx); !errors.Is(err, policy.ErrKeyMismatch) {
		t.Fatalf("Refresh against a foreign key = %v, want ErrKeyMismatch", err)
	}
	if p, err := f2.Policy(b.tenant); err != nil || p.Tier != "professional" {
		t.Fatalf("Policy after foreign key = %+v, %v", p, err)
	}
}

// mustPolicy fetches the tenant's signed policy through url.
func mustPolicy(t *testing.T, b *billing, url string) contract.SignedPolicy {
	t.Helper()
	c, err := client.New(client.Config{URL: url, Key: b.token})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := c.Policy(context.Background(), b.tenant)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}
