package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/contract"
)

// apiKeyHash is a deterministic key hash for a key id.
func apiKeyHash(id string) [32]byte { return sha256.Sum256([]byte("abk_secret-" + id)) }

// createAPIKey creates a read key at the fixture's clock.
func (f *fixture) createAPIKey(tenant, id string) APIKey {
	f.t.Helper()
	r := f.ok(CreateAPIKey{Header: f.h(), Tenant: tenant, KeyID: id, Name: "key " + id, Role: APIKeyRoleRead, Last4: "ab-_", KeyHash: apiKeyHash(id)})
	if r.APIKey == nil {
		f.t.Fatal("CreateAPIKey returned no key")
	}
	return *r.APIKey
}

func (f *fixture) apiKeyByHash(hash [32]byte) (APIKey, error) {
	f.t.Helper()
	var k APIKey
	var err error
	f.view(func(tx *bolt.Tx) error { k, err = APIKeyByHash(tx, hash); return nil })
	return k, err
}

func (f *fixture) apiKeys(tenant string) []APIKey {
	f.t.Helper()
	var ks []APIKey
	f.view(func(tx *bolt.Tx) (err error) { ks, err = ListAPIKeys(tx, tenant); return })
	return ks
}

func TestCreateAPIKey(t *testing.T) {
	f := newFixture(t)
	before := f.createTenant("t1", "starter")
	f.advance(time.Minute)
	f.actor = "admin:1234"
	k := f.createAPIKey("t1", "bk_1")
	want := APIKey{ID: "bk_1", Tenant: "t1", Name: "key bk_1", Role: APIKeyRoleRead, Last4: "ab-_", CreatedAt: f.now, CreatedBy: "admin:1234"}
	if k != want {
		t.Fatalf("created key = %+v, want %+v", k, want)
	}
	if got, err := f.apiKeyByHash(apiKeyHash("bk_1")); err != nil || got != want {
		t.Fatalf("APIKeyByHash = %+v, %v; want %+v", got, err, want)
	}
	if _, err := f.apiKeyByHash(apiKeyHash("other")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("APIKeyByHash(unknown) = %v, want ErrNotFound", err)
	}
	e := f.lastAudit("t1")
	wantDetails := map[string]string{"name": "key bk_1", "role": "read", "last4": "ab-_"}
	if e.Entity != "api_key" || e.EntityID != "bk_1" || e.Action != "api_key.created" || e.Actor != "admin:1234" ||
		!e.Time.Equal(f.now) || e.Seq != 2 || len(e.Details) != len(wantDetails) {
		t.Fatalf("audit entry = %+v", e)
	}
	for name, v := range wantDetails {
		if e.Details[name] != v {
			t.Fatalf("audit details = %v, want %v", e.Details, wantDetails)
		}
	}
	// A billing key is not part of the tenant or its policy.
	if after := f.tenant("t1"); after.PolicyVersion != before.PolicyVersion || !after.UpdatedAt.Equal(before.UpdatedAt) || len(after.RevokedAgentKeys) != 0 {
		t.Fatalf("tenant changed by CreateAPIKey: %+v", after)
	}
	// An unnamed key without last4 is fine, and audited without them.
	r := f.ok(CreateAPIKey{Header: f.h(), Tenant: "t1", KeyID: "bk_2", Role: APIKeyRoleRead, KeyHash: apiKeyHash("bk_2")})
	if r.APIKey.Name != "" || r.APIKey.Last4 != "" {
		t.Fatalf("unnamed key = %+v", r.APIKey)
	}
	if e := f.lastAudit("t1"); len(e.Details) != 1 || e.Details["role"] != "read" {
		t.Fatalf("audit details of an unnamed key = %v", e.Details)
	}
	// Suspended tenants may still be given read keys (to see what they owe).
	f.ok(SuspendTenant{Header: f.h(), Tenant: "t1", Reason: "abuse"})
	f.createAPIKey("t1", "bk_3")
}

func TestCreateAPIKeyErrors(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "free")
	f.createTenant("gone", "free")
	f.ok(DeleteTenant{Header: f.h(), Tenant: "gone"})
	f.registerCluster("c1", "t1")
	f.createAPIKey("t1", "bk_taken")
	good := CreateAPIKey{Header: f.h(), Tenant: "t1", KeyID: "bk_new", Name: "ci", Role: APIKeyRoleRead, Last4: "AZ09", KeyHash: apiKeyHash("bk_new")}
	tests := []struct {
		name   string
		mutate func(*CreateAPIKey)
		want   error
		msg    string
	}{
		{"no time", func(c *CreateAPIKey) { c.Time = 0 }, ErrInvalid, "time: required"},
		{"no actor", func(c *CreateAPIKey) { c.Actor = "" }, ErrInvalid, "actor: required"},
		{"no tenant", func(c *CreateAPIKey) { c.Tenant = "" }, ErrInvalid, "tenant: required"},
		{"bad tenant", func(c *CreateAPIKey) { c.Tenant = "a/b" }, ErrInvalid, `tenant: invalid id "a/b"`},
		{"unknown tenant", func(c *CreateAPIKey) { c.Tenant = "ghost" }, ErrNotFound, `tenant "ghost" not found`},
		{"deleted tenant", func(c *CreateAPIKey) { c.Tenant = "gone" }, ErrState, `tenant "gone" is deleted`},
		{"no key id", func(c *CreateAPIKey) { c.KeyID = "" }, ErrInvalid, "key_id: required"},
		{"bad key id", func(c *CreateAPIKey) { c.KeyID = "-x" }, ErrInvalid, `key_id: invalid id "-x"`},
		{"no hash", func(c *CreateAPIKey) { c.KeyHash = [32]byte{} }, ErrInvalid, "key_hash: required"},
		{"no role", func(c *CreateAPIKey) { c.Role = "" }, ErrInvalid, "role: required (want read or tenant)"},
		{"admin role", func(c *CreateAPIKey) { c.Role = "admin" }, ErrInvalid, `role: "admin" is not offered (want read or tenant)`},
		{"name control", func(c *CreateAPIKey) { c.Name = "a\nb" }, ErrInvalid, "name: contains a control character"},
		{"name spaces", func(c *CreateAPIKey) { c.Name = "ci " }, ErrInvalid, "name: leading or trailing spaces"},
		{"long name", func(c *CreateAPIKey) { c.Name = strings.Repeat("n", maxTextLen+1) }, ErrInvalid, "name: longer than 200 bytes"},
		{"short last4", func(c *CreateAPIKey) { c.Last4 = "abc" }, ErrInvalid, "last4: want the key's last 4 characters, got 3 bytes"},
		{"bad last4", func(c *CreateAPIKey) { c.Last4 = "ab/c" }, ErrInvalid, `last4: "ab/c" is not made of`},
		{"id exists", func(c *CreateAPIKey) { c.KeyID = "bk_taken" }, ErrConflict, `api key "bk_taken" already exists`},
		{"hash of another key", func(c *CreateAPIKey) { c.KeyHash = apiKeyHash("bk_taken") }, ErrConflict, `key_hash: already used by api key "bk_taken"`},
		{"hash of a cluster token", func(c *CreateAPIKey) { c.KeyHash = token("c1") }, ErrConflict, "key_hash: already used by a cluster enrollment token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			n := len(f.audit("t1"))
			c := good
			tc.mutate(&c)
			f.fail(c, tc.want, tc.msg) // the fixture checks the state is untouched
			if got := len(f.audit("t1")); got != n {
				t.Fatalf("failed command wrote %d audit entries", got-n)
			}
		})
	}
	// The enrollment token side of the same rule: a cluster cannot reuse a
	// key's hash.
	f.t = t
	f.fail(RegisterCluster{Header: f.h(), ClusterID: "c2", Tenants: []string{"t1"}, TokenHash: apiKeyHash("bk_taken")}, ErrConflict, "token_hash: already used by a billing api key")
}

func TestCreateAPIKeyReplay(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "free")
	c := CreateAPIKey{Header: f.h(), Tenant: "t1", KeyID: "bk_1", Name: "ci", Role: APIKeyRoleRead, KeyHash: apiKeyHash("bk_1")}
	first := f.ok(c)
	n := len(f.audit("t1"))
	r := f.ok(c) // the same proposal applied again (a retry after a lost leadership)
	if !r.Unchanged || *r.APIKey != *first.APIKey {
		t.Fatalf("replay = %+v, want the key unchanged", r)
	}
	if len(f.audit("t1")) != n {
		t.Fatal("replay wrote an audit entry")
	}
	f.advance(time.Second)
	c.Header = f.h()
	f.fail(c, ErrConflict, `api key "bk_1" already exists`)
}

func TestRevokeAPIKey(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "starter")
	f.createTenant("t2", "starter")
	f.createAPIKey("t1", "bk_1")
	f.createAPIKey("t2", "bk_2")
	pol := f.tenant("t1").PolicyVersion
	step := func() Header { f.advance(time.Minute); return f.h() }
	tests := []struct {
		name   string
		cmd    RevokeAPIKey
		want   error // nil: succeeds
		msg    string
		action string // the audit entry written on t1, if any
	}{
		{"no tenant", RevokeAPIKey{Header: step(), KeyID: "bk_1"}, ErrInvalid, "tenant: required", ""},
		{"no key id", RevokeAPIKey{Header: step(), Tenant: "t1"}, ErrInvalid, "key_id: required", ""},
		{"bad key id", RevokeAPIKey{Header: step(), Tenant: "t1", KeyID: "a b"}, ErrInvalid, `key_id: invalid id "a b"`, ""},
		{"unknown tenant", RevokeAPIKey{Header: step(), Tenant: "ghost", KeyID: "bk_1"}, ErrNotFound, `tenant "ghost" not found`, ""},
		{"unknown key", RevokeAPIKey{Header: step(), Tenant: "t1", KeyID: "bk_nope"}, ErrNotFound, `api key "bk_nope" of tenant "t1" not found`, ""},
		{"another tenant's key", RevokeAPIKey{Header: step(), Tenant: "t1", KeyID: "bk_2"}, ErrNotFound, `api key "bk_2" of tenant "t1" not found`, ""},
		{"revoke", RevokeAPIKey{Header: step(), Tenant: "t1", KeyID: "bk_1"}, nil, "", "api_key.revoked"},
		{"revoke again", RevokeAPIKey{Header: step(), Tenant: "t1", KeyID: "bk_1"}, nil, "", ""},
	}
	var revokedAt time.Time
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			n := len(f.audit("t1"))
			if tc.want != nil {
				f.fail(tc.cmd, tc.want, tc.msg)
			} else {
				r := f.ok(tc.cmd)
				if r.APIKey == nil || !r.APIKey.Revoked() || r.Unchanged != (tc.action == "") {
					t.Fatalf("result = %+v (key %+v)", r, r.APIKey)
				}
				if tc.action != "" {
					revokedAt = unixTime(tc.cmd.Time)
				}
				if !r.APIKey.RevokedAt.Equal(revokedAt) || r.APIKey.RevokedBy != "admin" {
					t.Fatalf("revoked key = %+v, want revoked at %s by admin", r.APIKey, revokedAt)
				}
			}
			es := f.audit("t1")
			switch {
			case tc.action == "" && len(es) != n:
				t.Fatalf("command wrote audit entry %+v", es[len(es)-1])
			case tc.action != "":
				if len(es) != n+1 {
					t.Fatalf("audit = %+v, want one new entry", es[n:])
				}
				e := es[n]
				if e.Action != tc.action || e.Entity != "api_key" || e.EntityID != "bk_1" || e.Actor != "admin" || !e.Time.Equal(unixTime(tc.cmd.Time)) || e.Details["name"] != "key bk_1" {
					t.Fatalf("audit entry = %+v", e)
				}
			}
		})
	}
	f.t = t
	if k, err := f.apiKeyByHash(apiKeyHash("bk_1")); err != nil || !k.Revoked() || !k.RevokedAt.Equal(revokedAt) {
		t.Fatalf("APIKeyByHash after revocation = %+v, %v", k, err)
	}
	if k, err := f.apiKeyByHash(apiKeyHash("bk_2")); err != nil || k.Revoked() {
		t.Fatalf("the other tenant's key = %+v, %v", k, err)
	}
	// Revoking a billing key leaves the tenant's policy alone.
	var p contract.Policy
	f.view(func(tx *bolt.Tx) (err error) { p, err = GetPolicy(tx, "t1"); return })
	if p.Version != pol || len(p.RevokedAgentKeys) != 0 {
		t.Fatalf("policy after RevokeAPIKey = %+v", p)
	}
	// A deleted tenant's keys can still be revoked (and stay listed).
	f.ok(DeleteTenant{Header: f.h(), Tenant: "t2"})
	if r := f.ok(RevokeAPIKey{Header: f.h(), Tenant: "t2", KeyID: "bk_2"}); !r.APIKey.Revoked() {
		t.Fatalf("revoke on a deleted tenant = %+v", r.APIKey)
	}
	if ks := f.apiKeys("t2"); len(ks) != 1 || !ks[0].Revoked() {
		t.Fatalf("keys of the deleted tenant = %+v", ks)
	}
	if e := f.lastAudit("t2"); e.Action != "api_key.revoked" {
		t.Fatalf("deleted tenant's last audit = %+v", e)
	}
}

// TestAgentAndAPIKeyRevocationDistinct checks that the two revocations
// never stand in for each other, even for the same id.
func TestAgentAndAPIKeyRevocationDistinct(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "free")
	f.createAPIKey("t1", "k1")
	f.ok(RevokeAgentKey{Header: f.h(), Tenant: "t1", KeyID: "k1"})
	if e := f.lastAudit("t1"); e.Action != "tenant.key_revoked" || e.Entity != "tenant" {
		t.Fatalf("agent key revocation audited as %+v", e)
	}
	if k, err := f.apiKeyByHash(apiKeyHash("k1")); err != nil || k.Revoked() {
		t.Fatalf("RevokeAgentKey revoked the billing key: %+v, %v", k, err)
	}
	f.createAPIKey("t1", "k2")
	f.ok(RevokeAPIKey{Header: f.h(), Tenant: "t1", KeyID: "k2"})
	if got := f.tenant("t1").RevokedAgentKeys; len(got) != 1 || got[0] != "k1" {
		t.Fatalf("revoked agent keys = %v, want [k1]", got)
	}
	// A billing key id alone is not an agent revocation target either way:
	// revoking agent key k2 now is a fresh revocation, not a no-op.
	if r := f.ok(RevokeAgentKey{Header: f.h(), Tenant: "t1", KeyID: "k2"}); r.Unchanged {
		t.Fatal("RevokeAgentKey of a revoked billing key id was a no-op")
	}
}

func TestListAPIKeys(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "free")
	f.createTenant("t10", "free") // its index prefix "t10\x00" must not mix with "t1\x00"
	f.createTenant("empty", "free")
	// Ids out of creation order: the listing is oldest first.
	for _, id := range []string{"bk_c", "bk_a", "bk_b"} {
		f.advance(time.Second)
		f.createAPIKey("t1", id)
	}
	f.createAPIKey("t10", "bk_other")
	f.ok(RevokeAPIKey{Header: f.h(), Tenant: "t1", KeyID: "bk_a"})
	ks := f.apiKeys("t1")
	if len(ks) != 3 || ks[0].ID != "bk_c" || ks[1].ID != "bk_a" || ks[2].ID != "bk_b" || !ks[1].Revoked() || ks[0].Revoked() {
		t.Fatalf("ListAPIKeys = %+v", ks)
	}
	raw, err := json.Marshal(ks)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"bk_c", "bk_a", "bk_b"} {
		h := apiKeyHash(id)
		if strings.Contains(string(raw), hex.EncodeToString(h[:])) || strings.Contains(string(raw), "sha256") {
			t.Fatalf("listing shows a key hash: %s", raw)
		}
	}
	if ks := f.apiKeys("empty"); ks == nil || len(ks) != 0 {
		t.Fatalf("ListAPIKeys(empty) = %#v, want an empty non-nil list", ks)
	}
	f.view(func(tx *bolt.Tx) error {
		if _, err := ListAPIKeys(tx, "ghost"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ListAPIKeys(ghost) = %v, want ErrNotFound", err)
		}
		return nil
	})
}

func TestActiveAPIKeyLimit(t *testing.T) {
	f := newFixture(t)
	f.fast = true // 100 creations; failures are checked below
	f.createTenant("t1", "free")
	for i := range MaxActiveAPIKeys {
		f.createAPIKey("t1", "bk_"+itoa(i))
	}
	f.fast = false
	over := CreateAPIKey{Header: f.h(), Tenant: "t1", KeyID: "bk_over", Role: APIKeyRoleRead, KeyHash: apiKeyHash("bk_over")}
	f.fail(over, ErrState, "already has 100 active api keys (the limit); revoke one first")
	f.ok(RevokeAPIKey{Header: f.h(), Tenant: "t1", KeyID: "bk_7"})
	f.ok(over)
	if n := len(f.apiKeys("t1")); n != MaxActiveAPIKeys+1 {
		t.Fatalf("listed %d keys, want %d", n, MaxActiveAPIKeys+1)
	}
}

// TestAPIKeyDeterminism applies the same key commands, failures included,
// to two ledgers: results and states must be identical byte for byte.
func TestAPIKeyDeterminism(t *testing.T) {
	a, b := newFixture(t), newFixture(t)
	run := func(f *fixture) []string {
		var out []string
		add := func(c Command) {
			raw, err := Encode(c)
			if err != nil {
				t.Fatal(err)
			}
			f.index++
			if err := f.db.Update(func(tx *bolt.Tx) error {
				out = append(out, string(f.sm.Apply(tx, f.index, raw)))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		add(CreateTenant{Header: f.h(), ID: "t1", Organization: "O", Name: "N", Tier: "free", Email: "a@b.example"})
		for i := range 5 {
			f.advance(time.Minute)
			add(CreateAPIKey{Header: f.h(), Tenant: "t1", KeyID: "bk_" + itoa(i), Name: "k" + itoa(i), Role: APIKeyRoleRead, Last4: "abcd", KeyHash: apiKeyHash(itoa(i))})
		}
		add(CreateAPIKey{Header: f.h(), Tenant: "t1", KeyID: "bk_dup", Role: APIKeyRoleRead, KeyHash: apiKeyHash("0")}) // conflict
		add(RevokeAPIKey{Header: f.h(), Tenant: "t1", KeyID: "bk_3"})
		add(RevokeAPIKey{Header: f.h(), Tenant: "t1", KeyID: "bk_3"}) // unchanged
		add(RevokeAgentKey{Header: f.h(), Tenant: "t1", KeyID: "bk_1"})
		return out
	}
	ra, rb := run(a), run(b)
	for i := range ra {
		if ra[i] != rb[i] {
			t.Fatalf("result %d differs:\n%q\n%q", i, ra[i], rb[i])
		}
	}
	if da, db := a.dump(), b.dump(); da != db {
		t.Fatalf("states differ:\n%s", diffLines(da, db))
	}
}
