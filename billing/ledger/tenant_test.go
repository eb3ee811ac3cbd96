package ledger

import (
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestCreateTenant(t *testing.T) {
	f := newFixture(t)
	tn := f.createTenant("acme", "starter")
	if tn.Status != StatusActive || tn.Tier != "starter" || !tn.CreatedAt.Equal(t0) || tn.PolicyVersion != 1 {
		t.Fatalf("created tenant = %+v", tn)
	}
	if got := f.tenant("acme"); got.Email != "acme@example.com" || len(got.TierHistory) != 1 {
		t.Fatalf("GetTenant = %+v", got)
	}
	e := f.lastAudit("acme")
	if e.Action != "tenant.created" || e.Actor != "admin" || e.Details["tier"] != "starter" || !e.Time.Equal(t0) || e.Seq != 1 {
		t.Fatalf("audit entry = %+v", e)
	}
}

func TestCreateTenantErrors(t *testing.T) {
	f := newFixture(t)
	f.createTenant("taken", "free")
	good := CreateTenant{Header: f.h(), ID: "t1", Organization: "Org", Name: "Name", Tier: "free", Email: "a@b.example"}
	tests := []struct {
		name   string
		mutate func(*CreateTenant)
		want   error
		msg    string
	}{
		{"unknown tier", func(c *CreateTenant) { c.Tier = "gold" }, ErrInvalid, `tier: unknown tier "gold" (want free, starter, professional or enterprise)`},
		{"no tier", func(c *CreateTenant) { c.Tier = "" }, ErrInvalid, "tier: required"},
		{"no id", func(c *CreateTenant) { c.ID = "" }, ErrInvalid, "id: required"},
		{"bad id", func(c *CreateTenant) { c.ID = "a b" }, ErrInvalid, `id: invalid id "a b"`},
		{"long id", func(c *CreateTenant) { c.ID = string(make([]byte, 200)) }, ErrInvalid, "id: invalid id"},
		{"no organization", func(c *CreateTenant) { c.Organization = "" }, ErrInvalid, "organization: required"},
		{"control char", func(c *CreateTenant) { c.Name = "a\x01" }, ErrInvalid, "name: contains a control character"},
		{"spaces", func(c *CreateTenant) { c.Name = " a" }, ErrInvalid, "name: leading or trailing spaces"},
		{"bad email", func(c *CreateTenant) { c.Email = "nope" }, ErrInvalid, `email: invalid email address "nope"`},
		{"named email", func(c *CreateTenant) { c.Email = "Bob <bob@x.example>" }, ErrInvalid, "email: invalid"},
		{"no time", func(c *CreateTenant) { c.Time = 0 }, ErrInvalid, "time: required"},
		{"no actor", func(c *CreateTenant) { c.Actor = "" }, ErrInvalid, "actor: required"},
		{"exists", func(c *CreateTenant) { c.ID = "taken" }, ErrConflict, `tenant "taken" already exists`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			c := good
			tc.mutate(&c)
			f.fail(c, tc.want, tc.msg)
		})
	}
}

func TestCreateTenantReplay(t *testing.T) {
	f := newFixture(t)
	c := CreateTenant{Header: f.h(), ID: "t1", Organization: "O", Name: "N", Tier: "free", Email: "a@b.example"}
	f.ok(c)
	r := f.ok(c) // the same proposal applied again (e.g. retried after a lost leadership)
	if !r.Unchanged || r.Tenant.ID != "t1" {
		t.Fatalf("replay = %+v, want unchanged tenant", r)
	}
	f.advance(time.Second)
	c.Header = f.h()
	f.fail(c, ErrConflict)
}

func TestUpdateTenant(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "free")
	f.advance(time.Minute)
	r := f.ok(UpdateTenant{Header: f.h(), Tenant: "t1", Name: "New name", Email: "new@x.example"})
	if r.Tenant.Name != "New name" || r.Tenant.Email != "new@x.example" || r.Tenant.Organization != "Org t1" {
		t.Fatalf("updated = %+v", r.Tenant)
	}
	e := f.lastAudit("t1")
	if e.Action != "tenant.updated" || e.Details["name_from"] != "Team t1" || e.Details["email_to"] != "new@x.example" {
		t.Fatalf("audit = %+v", e)
	}
	if r := f.ok(UpdateTenant{Header: f.h(), Tenant: "t1", Name: "New name"}); !r.Unchanged {
		t.Fatal("same name again should be unchanged")
	}
	f.fail(UpdateTenant{Header: f.h(), Tenant: "t1"}, ErrInvalid, "at least one")
	f.fail(UpdateTenant{Header: f.h(), Tenant: "t1", Email: "bad"}, ErrInvalid, "email:")
	f.fail(UpdateTenant{Header: f.h(), Tenant: "nope", Name: "x"}, ErrNotFound, `tenant "nope" not found`)
}

func TestTenantTransitions(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "starter")
	step := func() Header { f.advance(time.Minute); return f.h() }
	tests := []struct {
		name   string
		cmd    Command
		want   error // nil: succeeds
		status Status
		action string
	}{
		{"resume active", ResumeTenant{Header: step(), Tenant: "t1"}, ErrState, StatusActive, ""},
		{"dunning without overdue", SuspendTenant{Header: step(), Tenant: "t1", Reason: ReasonDunning}, ErrState, StatusActive, ""},
		{"suspend", SuspendTenant{Header: step(), Tenant: "t1", Reason: "abuse report"}, nil, StatusSuspended, "tenant.suspended"},
		{"suspend again", SuspendTenant{Header: step(), Tenant: "t1"}, ErrState, StatusSuspended, ""},
		{"resume", ResumeTenant{Header: step(), Tenant: "t1", Reason: "resolved"}, nil, StatusActive, "tenant.resumed"},
		{"change tier", ChangeTier{Header: step(), Tenant: "t1", Tier: "professional"}, nil, StatusActive, "tenant.tier_changed"},
		{"change to unknown tier", ChangeTier{Header: step(), Tenant: "t1", Tier: "gold"}, ErrInvalid, StatusActive, ""},
		{"revoke key", RevokeAgentKey{Header: step(), Tenant: "t1", KeyID: "k1"}, nil, StatusActive, "tenant.key_revoked"},
		{"delete", DeleteTenant{Header: step(), Tenant: "t1"}, nil, StatusDeleted, "tenant.deleted"},
		{"delete again", DeleteTenant{Header: step(), Tenant: "t1"}, ErrState, StatusDeleted, ""},
		{"suspend deleted", SuspendTenant{Header: step(), Tenant: "t1"}, ErrState, StatusDeleted, ""},
		{"resume deleted", ResumeTenant{Header: step(), Tenant: "t1"}, ErrState, StatusDeleted, ""},
		{"update deleted", UpdateTenant{Header: step(), Tenant: "t1", Name: "x"}, ErrState, StatusDeleted, ""},
		{"tier of deleted", ChangeTier{Header: step(), Tenant: "t1", Tier: "free"}, ErrState, StatusDeleted, ""},
		{"revoke on deleted", RevokeAgentKey{Header: step(), Tenant: "t1", KeyID: "k2"}, ErrState, StatusDeleted, ""},
		{"unknown tenant", SuspendTenant{Header: step(), Tenant: "ghost"}, ErrNotFound, StatusDeleted, ""},
	}
	for _, tc := range tests {
		f.t = t
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			n := len(f.audit("t1"))
			if tc.want != nil {
				f.fail(tc.cmd, tc.want)
			} else {
				f.ok(tc.cmd)
			}
			if got := f.tenant("t1").Status; got != tc.status {
				t.Fatalf("status = %s, want %s", got, tc.status)
			}
			es := f.audit("t1")
			switch {
			case tc.action == "" && len(es) != n:
				t.Fatalf("failed command wrote audit entry %+v", es[len(es)-1])
			case tc.action != "" && (len(es) != n+1 || es[n].Action != tc.action):
				t.Fatalf("audit = %+v, want one new %s entry", es[n:], tc.action)
			}
		})
	}
	tn := f.tenant("t1")
	if tn.DeletedAt.IsZero() || tn.Tier != "professional" || len(tn.RevokedAgentKeys) != 1 {
		t.Fatalf("final tenant = %+v", tn)
	}
	// Suspend, resume, tier change, revoke and delete each moved the policy on.
	if tn.PolicyVersion != 6 {
		t.Fatalf("policy version = %d, want 6", tn.PolicyVersion)
	}
}

func TestChangeTierHistory(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "starter")
	if r := f.ok(ChangeTier{Header: f.h(), Tenant: "t1", Tier: "starter"}); !r.Unchanged {
		t.Fatal("change to the current tier should be unchanged")
	}
	f.advance(time.Hour)
	f.ok(ChangeTier{Header: f.h(), Tenant: "t1", Tier: "professional"})
	// A proposer whose clock is behind cannot put a change before the last.
	f.now = t0.Add(30 * time.Minute)
	f.ok(ChangeTier{Header: f.h(), Tenant: "t1", Tier: "enterprise"})
	h := f.tenant("t1").TierHistory
	if len(h) != 3 || !h[2].From.Equal(t0.Add(time.Hour)) || h[2].Tier != "enterprise" {
		t.Fatalf("tier history = %+v", h)
	}
	e := f.lastAudit("t1")
	if e.Details["from"] != "professional" || e.Details["to"] != "enterprise" {
		t.Fatalf("audit = %+v", e)
	}
}

func TestRevokeAgentKey(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "free")
	f.ok(RevokeAgentKey{Header: f.h(), Tenant: "t1", KeyID: "kb"})
	f.ok(RevokeAgentKey{Header: f.h(), Tenant: "t1", KeyID: "ka"})
	if r := f.ok(RevokeAgentKey{Header: f.h(), Tenant: "t1", KeyID: "ka"}); !r.Unchanged {
		t.Fatal("revoking twice should be unchanged")
	}
	f.fail(RevokeAgentKey{Header: f.h(), Tenant: "t1", KeyID: ""}, ErrInvalid, "key_id: required")
	if got := f.tenant("t1").RevokedAgentKeys; len(got) != 2 || got[0] != "ka" || got[1] != "kb" {
		t.Fatalf("revoked keys = %v, want sorted [ka kb]", got)
	}
}

func TestListTenants(t *testing.T) {
	f := newFixture(t)
	for _, id := range []string{"c", "a", "d", "b"} {
		f.createTenant(id, "free")
	}
	f.ok(DeleteTenant{Header: f.h(), Tenant: "c"})
	var p TenantPage
	f.view(func(tx *bolt.Tx) (err error) { p, err = ListTenants(tx, TenantQuery{Limit: 2, Offset: 1}); return })
	if p.Total != 3 || len(p.Tenants) != 2 || p.Tenants[0].ID != "b" || p.Tenants[1].ID != "d" {
		t.Fatalf("page = %+v", p)
	}
	f.view(func(tx *bolt.Tx) (err error) { p, err = ListTenants(tx, TenantQuery{IncludeDeleted: true}); return })
	if p.Total != 4 || p.Limit != DefaultPageLimit || p.Tenants[2].ID != "c" {
		t.Fatalf("page with deleted = %+v", p)
	}
	f.view(func(tx *bolt.Tx) error {
		if _, err := ListTenants(tx, TenantQuery{Limit: -1}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("limit -1: err = %v", err)
		}
		if _, err := ListTenants(tx, TenantQuery{Offset: -1}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("offset -1: err = %v", err)
		}
		return nil
	})
}

// TestDuplicateTenantNames: two tenants of one organization with the same
// name used to be accepted.
func TestDuplicateTenantNames(t *testing.T) {
	f := newFixture(t)
	create := func(id, org, name string) CreateTenant {
		return CreateTenant{Header: f.h(), ID: id, Organization: org, Name: name, Tier: "free", Email: "a@b.example"}
	}
	f.ok(create("t1", "Acme", "shop"))
	f.fail(create("t2", "Acme", "shop"), ErrConflict, `organization "Acme" already has a tenant named "shop": t1`)
	f.fail(create("t2", "ACME", "Shop"), ErrConflict, "t1")
	f.ok(create("t2", "Acme", "shop-eu"))
	f.ok(create("t3", "Globex", "shop")) // another organization
	f.fail(UpdateTenant{Header: f.h(), Tenant: "t2", Name: "Shop"}, ErrConflict, "t1")
	f.fail(UpdateTenant{Header: f.h(), Tenant: "t3", Organization: "ACME"}, ErrConflict, "t1")
	f.ok(UpdateTenant{Header: f.h(), Tenant: "t1", Email: "b@b.example"}) // its own name is no conflict
	// A deleted tenant's name is free again.
	f.ok(DeleteTenant{Header: f.h(), Tenant: "t1"})
	f.ok(create("t4", "Acme", "shop"))
	// Format 1 commands (logs written before the rule) apply as they did.
	raw, err := Encode(create("t5", "Acme", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	raw[0] = commandFormatV1
	if r := f.applyRaw(raw); r.Err != nil {
		t.Fatalf("format 1 duplicate = %v, want applied as before", r.Err)
	}
}
