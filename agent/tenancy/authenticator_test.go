package tenancy

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/auth"
)

func request(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/collections", nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

// policyRevocations is a revoked function backed by a map the test changes.
type policyRevocations struct {
	mu sync.Mutex
	m  map[string][]string
}

func (p *policyRevocations) set(tenant string, ids ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[tenant] = ids
}

func (p *policyRevocations) revoked(tenant string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[tenant]
}

type authFixture struct {
	f     *fakeStore
	a     *Authenticator
	pol   *policyRevocations
	acme  APIKey // readwrite
	acmeS string
	glob  APIKey // admin
	globS string
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	x := &authFixture{f: newFakeStore(t), pol: &policyRevocations{m: map[string][]string{}}}
	x.a = NewAuthenticator(x.f, x.pol.revoked)
	x.acme, x.acmeS = newTestKey(t, "acme", "readwrite")
	x.glob, x.globS = newTestKey(t, "globex", "admin")
	x.f.mustApply(t, CreateKey{Key: x.acme})
	x.f.mustApply(t, CreateKey{Key: x.glob})
	return x
}

func wantPrincipal(t *testing.T, a auth.Authenticator, token string, want auth.Principal) {
	t.Helper()
	p, err := a.Authenticate(request(token))
	if err != nil || p != want {
		t.Fatalf("Authenticate = %+v, %v; want %+v", p, err, want)
	}
}

func wantRefused(t *testing.T, a auth.Authenticator, r *http.Request, msg string) {
	t.Helper()
	p, err := a.Authenticate(r)
	if !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("Authenticate = %+v, %v; want ErrUnauthenticated", p, err)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Fatalf("error %q does not say %q", err, msg)
	}
	if strings.Contains(err.Error(), "acme") || strings.Contains(err.Error(), "globex") {
		t.Fatalf("error %q names a tenant", err)
	}
	if p != (auth.Principal{}) {
		t.Fatalf("refused request got principal %+v", p)
	}
	if _, token, _ := strings.Cut(r.Header.Get("Authorization"), " "); len(token) > 8 && strings.Contains(err.Error(), token) {
		t.Fatalf("error %q echoes the token", err)
	}
}

func TestAuthenticate(t *testing.T) {
	x := newAuthFixture(t)
	wantPrincipal(t, x.a, x.acmeS, auth.Principal{Tenant: "acme", Role: auth.RoleReadWrite, KeyID: x.acme.ID})
	wantPrincipal(t, x.a, x.globS, auth.Principal{Tenant: "globex", Role: auth.RoleAdmin, KeyID: x.glob.ID})

	id, _, _ := ParseKey(x.acmeS)
	_, otherSecret, _ := ParseKey(x.globS)
	_, unknownS := newTestKey(t, "acme", "read") // never stored
	tests := []struct {
		name string
		r    *http.Request
		want string
	}{
		{"no header", request(""), "missing Authorization"},
		{"basic scheme", func() *http.Request {
			r := request("")
			r.Header.Set("Authorization", "Basic abc")
			return r
		}(), "Bearer scheme"},
		{"not an api key", request("some-admin-key"), "invalid key"},
		{"wrong secret", request(KeyPrefix + id + "_" + otherSecret), "invalid api key"},
		{"unknown id", request(unknownS), "invalid api key"},
		{"truncated", request(x.acmeS[:40]), "malformed api key"},
		{"uppercase id", request(KeyPrefix + strings.ToUpper(id) + x.acmeS[len(KeyPrefix)+IDLen:]), "malformed api key"},
		{"extra char", request(x.acmeS + "x"), "malformed api key"},
		{"prefix only", request(KeyPrefix), "malformed api key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantRefused(t, x.a, tt.r, tt.want)
		})
	}
}

// TestAuthenticateOtherTenant: a key only ever gives its own tenant, and
// another tenant's revocation list does not touch it.
func TestAuthenticateOtherTenant(t *testing.T) {
	x := newAuthFixture(t)
	x.pol.set("globex", x.acme.ID) // listed by the wrong tenant's policy
	for range 3 {
		p, err := x.a.Authenticate(request(x.acmeS))
		if err != nil || p.Tenant != "acme" {
			t.Fatalf("Authenticate(acme key) = %+v, %v; want tenant acme", p, err)
		}
	}
	// A globex key with acme's id but globex's secret is not acme's key.
	fake := KeyPrefix + x.acme.ID + x.globS[len(KeyPrefix)+IDLen:]
	wantRefused(t, x.a, request(fake), "invalid api key")
}

// TestRevokedThroughRaft: a revocation applied on this node refuses the
// very next request, although the key was cached.
func TestRevokedThroughRaft(t *testing.T) {
	x := newAuthFixture(t)
	wantPrincipal(t, x.a, x.acmeS, auth.Principal{Tenant: "acme", Role: auth.RoleReadWrite, KeyID: x.acme.ID})
	wantPrincipal(t, x.a, x.acmeS, auth.Principal{Tenant: "acme", Role: auth.RoleReadWrite, KeyID: x.acme.ID}) // from the cache
	x.f.mustApply(t, RevokeKey{ID: x.acme.ID, At: baseTime.Add(time.Minute)})
	wantRefused(t, x.a, request(x.acmeS), "api key revoked")
	// Other keys are unaffected, and a wrong secret still says only
	// "invalid".
	wantPrincipal(t, x.a, x.globS, auth.Principal{Tenant: "globex", Role: auth.RoleAdmin, KeyID: x.glob.ID})
	_, otherSecret, _ := ParseKey(x.globS)
	wantRefused(t, x.a, request(KeyPrefix+x.acme.ID+"_"+otherSecret), "invalid api key")
}

// TestRevokedThroughPolicy: an id listed in the tenant's policy is refused
// at once, and accepted again if the list drops it.
func TestRevokedThroughPolicy(t *testing.T) {
	x := newAuthFixture(t)
	wantPrincipal(t, x.a, x.acmeS, auth.Principal{Tenant: "acme", Role: auth.RoleReadWrite, KeyID: x.acme.ID})
	x.pol.set("acme", "aaaaaaaaaaaaaaaa", x.acme.ID)
	wantRefused(t, x.a, request(x.acmeS), "api key revoked")
	wantPrincipal(t, x.a, x.globS, auth.Principal{Tenant: "globex", Role: auth.RoleAdmin, KeyID: x.glob.ID})
	x.pol.set("acme")
	wantPrincipal(t, x.a, x.acmeS, auth.Principal{Tenant: "acme", Role: auth.RoleReadWrite, KeyID: x.acme.ID})
}

func TestAuthenticateNilRevoked(t *testing.T) {
	x := newAuthFixture(t)
	a := NewAuthenticator(x.f, nil)
	wantPrincipal(t, a, x.acmeS, auth.Principal{Tenant: "acme", Role: auth.RoleReadWrite, KeyID: x.acme.ID})
}

// TestAuthenticateStateError: a failed read is not "unauthenticated", so a
// chain stops and the caller sees a server error.
func TestAuthenticateStateError(t *testing.T) {
	x := newAuthFixture(t)
	boom := errors.New("store closed")
	x.f.viewErr = boom
	_, err := x.a.Authenticate(request(x.acmeS))
	if !errors.Is(err, boom) || errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("Authenticate = %v, want the view error", err)
	}
}

// TestAuthenticateInChain: the admin key and tenant keys side by side, in
// either order; a refused api key is told what is wrong with it, whatever
// the admin key said.
func TestAuthenticateInChain(t *testing.T) {
	x := newAuthFixture(t)
	admin, err := auth.NewAdminKey("the-admin-key")
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedS := newTestKey(t, "acme", "read")
	x.f.mustApply(t, CreateKey{Key: revoked})
	x.f.mustApply(t, RevokeKey{ID: revoked.ID, At: baseTime})
	for _, chain := range []auth.Chain{{admin, x.a}, {x.a, admin}} {
		wantPrincipal(t, chain, "the-admin-key", auth.Principal{Tenant: auth.DefaultTenant, Role: auth.RoleAdmin, KeyID: auth.AdminKeyID})
		wantPrincipal(t, chain, x.acmeS, auth.Principal{Tenant: "acme", Role: auth.RoleReadWrite, KeyID: x.acme.ID})
		wantRefused(t, chain, request("not-the-admin-key"), "invalid key")
		wantRefused(t, chain, request(x.acmeS[:40]), "malformed api key")
		wantRefused(t, chain, request(revokedS), "api key revoked")
		_, unknownS := newTestKey(t, "acme", "read")
		wantRefused(t, chain, request(unknownS), "invalid api key")
	}
}

// TestAuthenticateConcurrent runs requests while keys are created and
// revoked (for -race), then checks the final answers.
func TestAuthenticateConcurrent(t *testing.T) {
	x := newAuthFixture(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if p, err := x.a.Authenticate(request(x.globS)); err != nil || p.Tenant != "globex" {
					t.Errorf("Authenticate(globex) = %+v, %v", p, err)
					return
				}
				_, _ = x.a.Authenticate(request(x.acmeS))
			}
		}()
	}
	for i := range 20 {
		k, _ := newTestKey(t, "acme", "read")
		x.f.mustApply(t, CreateKey{Key: k})
		if i == 10 {
			x.f.mustApply(t, RevokeKey{ID: x.acme.ID, At: baseTime})
		}
	}
	close(stop)
	wg.Wait()
	wantRefused(t, x.a, request(x.acmeS), "api key revoked")
}

// TestAuthenticateWithGeneration: with the state machine's published key
// generation, a cached key is answered without reading the state; a key
// command's commit moves the generation, so a revocation still refuses the
// very next request and a new key is found.
func TestAuthenticateWithGeneration(t *testing.T) {
	x := newAuthFixture(t)
	views := func() int {
		x.f.mu.Lock()
		defer x.f.mu.Unlock()
		return len(x.f.views)
	}
	x.a.UseGeneration(x.f.sm.KeyGeneration)
	fresh := NewStateMachine()
	if _, ok := fresh.KeyGeneration(); ok {
		t.Fatal("KeyGeneration of a state machine that never loaded or committed reports ok")
	}
	if err := x.f.db.View(x.f.sm.Load); err != nil {
		t.Fatal(err)
	}
	if gen, ok := x.f.sm.KeyGeneration(); !ok || gen != 2 {
		t.Fatalf("KeyGeneration after Load = %d, %v; want 2 (two keys created), true", gen, ok)
	}
	want := auth.Principal{Tenant: "acme", Role: auth.RoleReadWrite, KeyID: x.acme.ID}
	wantPrincipal(t, x.a, x.acmeS, want) // fills the cache: one read
	before := views()
	for range 5 {
		wantPrincipal(t, x.a, x.acmeS, want)
	}
	if n := views() - before; n != 0 {
		t.Errorf("cached key: %d state reads for 5 requests, want 0", n)
	}
	x.f.mustApply(t, RevokeKey{ID: x.acme.ID, At: baseTime.Add(time.Minute)})
	if gen, _ := x.f.sm.KeyGeneration(); gen != 3 {
		t.Errorf("KeyGeneration after a revocation committed = %d, want 3", gen)
	}
	wantRefused(t, x.a, request(x.acmeS), "api key revoked")
	k, s := newTestKey(t, "acme", "read")
	x.f.mustApply(t, CreateKey{Key: k})
	wantPrincipal(t, x.a, s, auth.Principal{Tenant: "acme", Role: auth.RoleRead, KeyID: k.ID})
	// A rolled-back transaction publishes nothing.
	k2, _ := newTestKey(t, "acme", "read")
	cmd, err := EncodeCommand(CreateKey{Key: k2})
	if err != nil {
		t.Fatal(err)
	}
	errRollback := errors.New("rollback")
	if err := x.f.db.Update(func(tx *bolt.Tx) error {
		x.f.sm.Apply(tx, 99, cmd)
		return errRollback
	}); !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if gen, _ := x.f.sm.KeyGeneration(); gen != 4 {
		t.Errorf("KeyGeneration after a rolled-back key command = %d, want 4 (unchanged)", gen)
	}
}
