package ledger

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/billing/tier"
)

func seed(b byte) [32]byte {
	var s [32]byte
	for i := range s {
		s[i] = b + byte(i)
	}
	return s
}

func (f *fixture) policy(tenant string) contract.Policy {
	f.t.Helper()
	var p contract.Policy
	f.view(func(tx *bolt.Tx) (err error) { p, err = GetPolicy(tx, tenant); return })
	return p
}

func TestSigningKey(t *testing.T) {
	f := newFixture(t)
	f.view(func(tx *bolt.Tx) error {
		if _, err := SigningKey(tx); !errors.Is(err, ErrNotFound) {
			t.Fatalf("SigningKey before set: %v", err)
		}
		return nil
	})
	f.fail(SetSigningKey{Header: f.h()}, ErrInvalid, "seed: required")
	f.ok(SetSigningKey{Header: f.h(), Seed: seed(1)})
	if r := f.ok(SetSigningKey{Header: f.h(), Seed: seed(1)}); !r.Unchanged {
		t.Fatal("setting the same seed again should be unchanged")
	}
	f.fail(SetSigningKey{Header: f.h(), Seed: seed(2)}, ErrConflict, "already set")
	f.view(func(tx *bolt.Tx) error {
		k, err := SigningKey(tx)
		if err != nil {
			return err
		}
		s := seed(1)
		if !bytes.Equal(k.Seed(), s[:]) {
			t.Fatal("stored key is not the seed's")
		}
		return nil
	})
}

func TestPolicy(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "professional")
	p := f.policy("t1")
	pro, _ := tier.Defaults().Get("professional")
	if p.Tier != "professional" || p.Status != contract.StatusActive || p.Limits != pro.Limits || p.QuotaAction != contract.AllowWithOverage ||
		p.Version != 1 || !p.IssuedAt.Equal(t0) || p.RevokedAgentKeys == nil || p.Included != contract.Included(pro.Included) {
		t.Fatalf("policy = %+v", p)
	}
	f.advance(time.Hour)
	f.ok(RevokeAgentKey{Header: f.h(), Tenant: "t1", KeyID: "agent-key-1"})
	f.ok(ChangeTier{Header: f.h(), Tenant: "t1", Tier: "free"})
	p = f.policy("t1")
	if p.Version != 3 || p.Tier != "free" || p.QuotaAction != contract.Block || len(p.RevokedAgentKeys) != 1 || !p.IssuedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("policy after changes = %+v", p)
	}
	// A catalog change moves every tenant's policy on.
	cat := tier.Defaults()
	cat.Tiers[0].Limits.RequestsPerSecond = 7
	f.advance(time.Hour)
	f.ok(SetCatalog{Header: f.h(), Catalog: cat})
	p = f.policy("t1")
	if p.Version != 4 || p.Limits.RequestsPerSecond != 7 || !p.IssuedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("policy after catalog change = %+v", p)
	}
	f.view(func(tx *bolt.Tx) error {
		if _, err := GetPolicy(tx, "ghost"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("GetPolicy(ghost) = %v", err)
		}
		return nil
	})
}

func TestSignAndVerifyPolicy(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "starter")
	f.ok(RevokeAgentKey{Header: f.h(), Tenant: "t1", KeyID: "k1"})
	priv := ed25519.NewKeyFromSeed(func() []byte { s := seed(9); return s[:] }())
	pub := priv.Public().(ed25519.PublicKey)
	p := f.policy("t1")
	sp, err := contract.SignPolicy(p, priv)
	if err != nil {
		t.Fatal(err)
	}
	if sp.KeyID != contract.KeyID(pub) || len(sp.KeyID) != 16 {
		t.Fatalf("key id = %q", sp.KeyID)
	}
	// Over the wire (and even re-indented) it verifies.
	wire, _ := json.MarshalIndent(sp, "", "  ")
	var got contract.SignedPolicy
	if err := json.Unmarshal(wire, &got); err != nil {
		t.Fatal(err)
	}
	back, err := contract.VerifyPolicy(got, pub)
	if err != nil {
		t.Fatalf("VerifyPolicy = %v", err)
	}
	if back.Tenant != "t1" || back.Version != p.Version || !back.IssuedAt.Equal(p.IssuedAt) || back.Limits != p.Limits {
		t.Fatalf("verified policy = %+v, want %+v", back, p)
	}
	// Signing is deterministic: identical bytes on every replica.
	sp2, _ := contract.SignPolicy(p, priv)
	if !bytes.Equal(sp.Signature, sp2.Signature) || !bytes.Equal(sp.Payload, sp2.Payload) {
		t.Fatal("signing the same policy twice differs")
	}

	tampered := sp
	tampered.Payload = bytes.Replace(sp.Payload, []byte(`"active"`), []byte(`"suspendd"`), 1)
	tampered.Payload = bytes.Replace(tampered.Payload, []byte(`"starter"`), []byte(`"enterprise"`), 1)
	otherPub := ed25519.NewKeyFromSeed(func() []byte { s := seed(3); return s[:] }()).Public().(ed25519.PublicKey)
	noKeyID := sp
	noKeyID.KeyID = ""
	for name, tc := range map[string]struct {
		sp  contract.SignedPolicy
		pub ed25519.PublicKey
	}{
		"tampered":        {tampered, pub},
		"other key":       {sp, otherPub},
		"other key no id": {noKeyID, otherPub},
		"bad signature":   {contract.SignedPolicy{Payload: sp.Payload, Signature: []byte("x"), KeyID: sp.KeyID}, pub},
		"not json":        {contract.SignedPolicy{Payload: []byte("{"), Signature: sp.Signature}, pub},
	} {
		if _, err := contract.VerifyPolicy(tc.sp, tc.pub); !errors.Is(err, contract.ErrBadSignature) {
			t.Errorf("%s: VerifyPolicy = %v, want ErrBadSignature", name, err)
		}
	}
	if _, err := contract.VerifyPolicy(sp, nil); err == nil {
		t.Error("verified with no key")
	}
	if _, err := contract.SignPolicy(p, nil); err == nil {
		t.Error("signed with no key")
	}
}

func TestSetCatalog(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "starter")
	if r := f.ok(SetCatalog{Header: f.h(), Catalog: tier.Defaults()}); !r.Unchanged {
		t.Fatal("setting the defaults over the defaults should be unchanged")
	}
	bad := tier.Defaults()
	bad.Tiers[1].Overage.Reads.Unit = 0
	f.fail(SetCatalog{Header: f.h(), Catalog: bad}, ErrInvalid, "catalog: tiers[1] (starter).overage.reads.unit")
	noStarter := tier.Defaults()
	noStarter.Tiers = append(noStarter.Tiers[:1], noStarter.Tiers[2:]...)
	f.fail(SetCatalog{Header: f.h(), Catalog: noStarter}, ErrInvalid, `tier "starter" is missing but tenant "t1"`)

	gold := tier.Defaults()
	g := gold.Tiers[3].Clone()
	g.Name, g.DisplayName, g.BasePrice = "gold", "Gold", tier.Dollars(500)
	gold.Tiers = append(gold.Tiers, g)
	f.ok(SetCatalog{Header: f.h(), Catalog: gold})
	f.createTenant("t2", "gold")
	f.fail(CreateTenant{Header: f.h(), ID: "t3", Organization: "o", Name: "n", Tier: "platinum", Email: "a@b.example"},
		ErrInvalid, `tier: unknown tier "platinum" (want free, starter, professional, enterprise or gold)`)
	f.now = feb.Add(time.Hour)
	inv := f.ok(closeCmd(f.h(), "t2", t0, feb, t0, feb)).Invoice
	if inv.TotalCents != 50000 {
		t.Fatalf("gold invoice = %d cents, want 50000", inv.TotalCents)
	}
	var cat tier.Catalog
	f.view(func(tx *bolt.Tx) (err error) { cat, err = Catalog(tx); return })
	if len(cat.Tiers) != 5 {
		t.Fatalf("catalog = %v", cat.Names())
	}
}

func TestRegisterCluster(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "free")
	f.createTenant("t2", "free")
	f.createTenant("gone", "free")
	f.ok(DeleteTenant{Header: f.h(), Tenant: "gone"})
	cl := f.registerCluster("c1", "t2", "t1")
	if cl.Tenants[0] != "t1" || cl.TokenSHA256 == "" {
		t.Fatalf("cluster = %+v", cl)
	}
	tok := token("c1")
	if r := f.ok(RegisterCluster{Header: f.h(), ClusterID: "c1", Tenants: []string{"t1", "t2"}, TokenHash: tok}); !r.Unchanged {
		t.Fatal("identical registration should be unchanged")
	}
	tests := []struct {
		name string
		cmd  RegisterCluster
		want error
		msg  string
	}{
		{"exists", RegisterCluster{Header: f.h(), ClusterID: "c1", Tenants: []string{"t1"}, TokenHash: token("x")}, ErrConflict, `cluster "c1" already exists`},
		{"token reused", RegisterCluster{Header: f.h(), ClusterID: "c2", Tenants: []string{"t1"}, TokenHash: tok}, ErrConflict, "token_hash: already used"},
		{"no token", RegisterCluster{Header: f.h(), ClusterID: "c2", Tenants: []string{"t1"}}, ErrInvalid, "token_hash: required"},
		{"no tenants", RegisterCluster{Header: f.h(), ClusterID: "c2", TokenHash: token("c2")}, ErrInvalid, "tenants: at least one"},
		{"unknown tenant", RegisterCluster{Header: f.h(), ClusterID: "c2", Tenants: []string{"t1", "ghost"}, TokenHash: token("c2")}, ErrInvalid, `tenants[1]: tenant "ghost" not found`},
		{"deleted tenant", RegisterCluster{Header: f.h(), ClusterID: "c2", Tenants: []string{"gone"}, TokenHash: token("c2")}, ErrInvalid, `tenants[0]: tenant "gone" is deleted`},
		{"twice", RegisterCluster{Header: f.h(), ClusterID: "c2", Tenants: []string{"t1", "t1"}, TokenHash: token("c2")}, ErrInvalid, `"t1" is listed twice`},
		{"bad id", RegisterCluster{Header: f.h(), ClusterID: "c 2", Tenants: []string{"t1"}, TokenHash: token("c2")}, ErrInvalid, "cluster_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.fail(tc.cmd, tc.want, tc.msg)
		})
	}
	f.t = t
	f.view(func(tx *bolt.Tx) error {
		got, err := ClusterByToken(tx, tok)
		if err != nil || got.ID != "c1" {
			t.Fatalf("ClusterByToken = %+v, %v", got, err)
		}
		if _, err := ClusterByToken(tx, token("nope")); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown token: %v", err)
		}
		if _, err := GetCluster(tx, "c9"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown cluster: %v", err)
		}
		return nil
	})
	if e := f.lastAudit("t2"); e.Action != "cluster.registered" || e.EntityID != "c1" {
		t.Fatalf("audit = %+v", e)
	}
}

func TestAuditPaging(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "free")
	for i := 0; i < 5; i++ {
		f.ok(RevokeAgentKey{Header: f.h(), Tenant: "t1", KeyID: "k" + itoa(i)})
	}
	f.view(func(tx *bolt.Tx) error {
		page, err := Audit(tx, "t1", 2, 2)
		if err != nil {
			return err
		}
		if len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 4 {
			t.Fatalf("page = %+v", page)
		}
		if _, err := Audit(tx, "ghost", 0, 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown tenant audit: %v", err)
		}
		return nil
	})
}

func TestSignedPolicyFor(t *testing.T) {
	f := newFixture(t)
	f.createTenant("t1", "starter")
	f.view(func(tx *bolt.Tx) error {
		if _, err := SignedPolicyFor(tx, "t1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("before a key is set: %v", err)
		}
		return nil
	})
	f.ok(SetSigningKey{Header: f.h(), Seed: seed(5)})
	f.ok(SuspendTenant{Header: f.h(), Tenant: "t1"})
	f.view(func(tx *bolt.Tx) error {
		sp, err := SignedPolicyFor(tx, "t1")
		if err != nil {
			return err
		}
		pub, err := PublicKey(tx)
		if err != nil {
			return err
		}
		p, err := contract.VerifyPolicy(sp, pub)
		if err != nil || p.Status != contract.StatusSuspended || p.Tenant != "t1" {
			t.Fatalf("verified = %+v, %v", p, err)
		}
		if _, err := SignedPolicyFor(tx, "ghost"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown tenant: %v", err)
		}
		return nil
	})
}
