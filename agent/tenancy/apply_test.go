package tenancy

import (
	"crypto/ed25519"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/billing/contract"
)

func loadPolicy(t *testing.T, f *fakeStore, tenant string) (contract.SignedPolicy, contract.Policy, bool) {
	t.Helper()
	var sp contract.SignedPolicy
	var p contract.Policy
	var ok bool
	err := f.db.View(func(tx *bolt.Tx) error {
		var err error
		sp, p, ok, err = LoadPolicy(tx, tenant)
		return err
	})
	if err != nil {
		t.Fatalf("LoadPolicy(%s) = %v", tenant, err)
	}
	return sp, p, ok
}

func TestSetPolicyVersionOrdering(t *testing.T) {
	f := newFakeStore(t)
	v2 := testPolicy("acme", 2, contract.Block)
	if r := f.mustApply(t, setPolicyCmd(t, v2)); r.Unchanged || r.Policy == nil || r.Policy.Version != 2 {
		t.Fatalf("first SetPolicy result = %+v, want version 2 applied", r)
	}
	steps := []struct {
		name          string
		version       uint64
		wantUnchanged bool
		wantStored    uint64
	}{
		{"lower version", 1, true, 2},
		{"equal version", 2, true, 2},
		{"higher version", 3, false, 3},
		{"skipping versions", 7, false, 7},
		{"older after newer", 5, true, 7},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			p := testPolicy("acme", s.version, contract.Warn)
			r := f.mustApply(t, setPolicyCmd(t, p))
			if r.Unchanged != s.wantUnchanged {
				t.Errorf("Unchanged = %v, want %v", r.Unchanged, s.wantUnchanged)
			}
			if r.Policy == nil || r.Policy.Version != s.wantStored {
				t.Errorf("result policy = %+v, want the stored version %d", r.Policy, s.wantStored)
			}
			sp, got, ok := loadPolicy(t, f, "acme")
			if !ok || got.Version != s.wantStored {
				t.Fatalf("stored version = %d (ok %v), want %d", got.Version, ok, s.wantStored)
			}
			// The stored signed form still verifies.
			vp, err := contract.VerifyPolicy(sp, testSigner.Public().(ed25519.PublicKey))
			if err != nil || vp.Version != s.wantStored {
				t.Fatalf("VerifyPolicy(stored) = %v, %v", vp.Version, err)
			}
		})
	}
	if _, _, ok := loadPolicy(t, f, "other"); ok {
		t.Fatal("LoadPolicy(other) found a policy")
	}
}

func TestSetPolicyRejects(t *testing.T) {
	good := setPolicyCmd(t, testPolicy("acme", 1, contract.Block))
	wrongTenant := good
	wrongTenant.Tenant = "globex"
	badTenant := setPolicyCmd(t, testPolicy("bad tenant!", 1, contract.Block))
	shortSig := good
	shortSig.Signed.Signature = shortSig.Signed.Signature[:10]
	tests := []struct {
		name string
		cmd  SetPolicy
		want string
	}{
		{"policy of another tenant", wrongTenant, `the signed policy is for tenant "acme"`},
		{"invalid tenant", badTenant, "invalid tenant"},
		{"short signature", shortSig, "signature is 10 bytes, want 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeStore(t)
			r := f.apply(t, tt.cmd)
			wantCode(t, r.Error(), CodeInvalid)
			if !strings.Contains(r.Err.Message, tt.want) {
				t.Fatalf("error = %q, want it to contain %q", r.Err.Message, tt.want)
			}
			if d := dump(t, f.db); len(d) != 0 {
				t.Fatalf("a refused command wrote %v", d)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		action     contract.QuotaAction
		wantRefuse bool
	}{
		{contract.Block, true},
		{contract.Throttle, true},
		{contract.AllowWithOverage, false},
		{contract.Warn, false},
		{"future_action", true},
	}
	for _, tt := range tests {
		t.Run(string(tt.action), func(t *testing.T) {
			f := newFakeStore(t)
			p := testPolicy("acme", 1, tt.action)
			p.Limits.StorageBytes, p.Limits.MaxCollections, p.Limits.MaxDocumentsPerCollection = 4096, 0, 77
			f.mustApply(t, setPolicyCmd(t, p))
			var got document.Limits
			var ok bool
			err := f.db.View(func(tx *bolt.Tx) error {
				var err error
				got, ok, err = Limits(tx, "acme")
				if err != nil {
					return err
				}
				if _, other, err := Limits(tx, "globex"); other || err != nil {
					t.Errorf("Limits(globex) = %v, %v; want none", other, err)
				}
				return nil
			})
			want := document.Limits{StorageBytes: 4096, MaxCollections: 0, MaxDocumentsPerCollection: 77, Refuse: tt.wantRefuse}
			if err != nil || !ok || got != want {
				t.Fatalf("Limits = %+v, %v, %v; want %+v", got, ok, err, want)
			}
		})
	}
}

func TestLimitsFollowNewerPolicy(t *testing.T) {
	f := newFakeStore(t)
	p1 := testPolicy("acme", 1, contract.Block)
	f.mustApply(t, setPolicyCmd(t, p1))
	p2 := testPolicy("acme", 2, contract.AllowWithOverage)
	p2.Limits.StorageBytes = 99
	f.mustApply(t, setPolicyCmd(t, p2))
	err := f.db.View(func(tx *bolt.Tx) error {
		l, ok, err := Limits(tx, "acme")
		if err != nil || !ok || l.StorageBytes != 99 || l.Refuse {
			t.Errorf("Limits = %+v, %v, %v; want version 2's", l, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCreateKey(t *testing.T) {
	valid, _ := newTestKey(t, "acme", "readwrite")
	mod := func(f func(k *APIKey)) APIKey { k := valid; f(&k); return k }
	tests := []struct {
		name string
		key  APIKey
		code string
		want string
	}{
		{"bad id", mod(func(k *APIKey) { k.ID = "ABCDEF0123456789" }), CodeInvalid, "invalid api key id"},
		{"bad tenant", mod(func(k *APIKey) { k.Tenant = "" }), CodeInvalid, "missing tenant"},
		{"bad role", mod(func(k *APIKey) { k.Role = "owner" }), CodeInvalid, `invalid role "owner"`},
		{"alias role not stored", mod(func(k *APIKey) { k.Role = "write" }), CodeInvalid, `invalid role "write"`},
		{"long name", mod(func(k *APIKey) { k.Name = strings.Repeat("n", MaxNameBytes+1) }), CodeInvalid, "key name is 129 bytes"},
		{"control in name", mod(func(k *APIKey) { k.Name = "a\nb" }), CodeInvalid, "control character"},
		{"no hash", mod(func(k *APIKey) { k.Hash = [32]byte{} }), CodeInvalid, "no secret hash"},
		{"no time", mod(func(k *APIKey) { k.CreatedAt = time.Time{} }), CodeInvalid, "no creation time"},
		{"already revoked", mod(func(k *APIKey) { k.Revoked = true }), CodeInvalid, "cannot be revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeStore(t)
			r := f.apply(t, CreateKey{Key: tt.key})
			wantCode(t, r.Error(), tt.code)
			if !strings.Contains(r.Err.Message, tt.want) {
				t.Fatalf("error = %q, want it to contain %q", r.Err.Message, tt.want)
			}
			if d := dump(t, f.db); len(d) != 0 {
				t.Fatalf("a refused command wrote %v", d)
			}
		})
	}

	t.Run("created, then conflict", func(t *testing.T) {
		f := newFakeStore(t)
		r := f.mustApply(t, CreateKey{Key: valid})
		if r.Key == nil || !keysEqual(*r.Key, valid) {
			t.Fatalf("result key = %+v, want %+v", r.Key, valid)
		}
		before := dump(t, f.db)
		other, _ := newTestKey(t, "globex", "read")
		other.ID = valid.ID
		r = f.apply(t, CreateKey{Key: other})
		wantCode(t, r.Error(), CodeConflict)
		if !reflect.DeepEqual(dump(t, f.db), before) {
			t.Fatal("a conflicting create changed the state")
		}
		var got APIKey
		var ok bool
		if err := f.db.View(func(tx *bolt.Tx) (err error) { got, ok, err = GetKey(tx, valid.ID); return }); err != nil || !ok {
			t.Fatalf("GetKey = %v, %v", ok, err)
		}
		if !keysEqual(got, valid) || got.Tenant != "acme" {
			t.Fatalf("GetKey = %+v, want %+v", got, valid)
		}
	})
}

func TestRevokeKey(t *testing.T) {
	f := newFakeStore(t)
	key, _ := newTestKey(t, "acme", "read")
	f.mustApply(t, CreateKey{Key: key})
	first := baseTime.Add(time.Hour)

	r := f.mustApply(t, RevokeKey{ID: key.ID, At: first})
	if r.Unchanged || r.Key == nil || !r.Key.Revoked || !r.Key.RevokedAt.Equal(first) {
		t.Fatalf("revoke result = %+v, want revoked at %v", r, first)
	}
	before := dump(t, f.db)
	r = f.mustApply(t, RevokeKey{ID: key.ID, At: first.Add(time.Hour)})
	if !r.Unchanged || !r.Key.RevokedAt.Equal(first) {
		t.Fatalf("second revoke result = %+v, want unchanged, first time kept", r)
	}
	if !reflect.DeepEqual(dump(t, f.db), before) {
		t.Fatal("revoking twice changed the state")
	}

	tests := []struct {
		name string
		cmd  RevokeKey
		code string
	}{
		{"unknown id", RevokeKey{ID: "0123456789abcdef", At: first}, CodeNotFound},
		{"malformed id", RevokeKey{ID: "nope", At: first}, CodeInvalid},
		{"no time", RevokeKey{ID: key.ID}, CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, f.apply(t, tt.cmd).Error(), tt.code)
		})
	}
}

func TestApplyMalformed(t *testing.T) {
	db := openDB(t)
	sm := NewStateMachine()
	var res []byte
	if err := db.Update(func(tx *bolt.Tx) error { res = sm.Apply(tx, 1, []byte("T\x01nonsense")); return nil }); err != nil {
		t.Fatal(err)
	}
	r, err := DecodeResult(res)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, r.Error(), CodeInternal)
	if !strings.Contains(r.Err.Message, "malformed command") {
		t.Fatalf("message = %q", r.Err.Message)
	}
}

// TestApplyDeterministic applies one sequence on two databases and
// compares them byte for byte.
func TestApplyDeterministic(t *testing.T) {
	k1, _ := newTestKey(t, "acme", "admin")
	k2, _ := newTestKey(t, "globex", "read")
	k3, _ := newTestKey(t, "acme", "read")
	seq := []Command{
		setPolicyCmd(t, testPolicy("acme", 1, contract.Block)),
		CreateKey{Key: k1},
		CreateKey{Key: k2},
		setPolicyCmd(t, testPolicy("globex", 4, contract.Warn)),
		RevokeKey{ID: k1.ID, At: baseTime.Add(time.Minute)},
		CreateKey{Key: k1}, // conflict
		CreateKey{Key: k3},
		setPolicyCmd(t, testPolicy("acme", 1, contract.Warn)), // unchanged
		RevokeKey{ID: k1.ID, At: baseTime.Add(time.Hour)},     // unchanged
	}
	a, b := newFakeStore(t), newFakeStore(t)
	for _, c := range seq {
		ra, rb := a.apply(t, c), b.apply(t, c)
		ea, eb := EncodeResult(ra), EncodeResult(rb)
		if string(ea) != string(eb) {
			t.Fatalf("results differ for %T: %s vs %s", c, ea, eb)
		}
	}
	if da, db := dump(t, a.db), dump(t, b.db); !reflect.DeepEqual(da, db) {
		t.Fatal("states differ after the same commands")
	}
	// Three key creations and one effective revocation: generation 4.
	if err := a.db.View(func(tx *bolt.Tx) error {
		if g := keyGenerationOf(tx); g != 4 {
			t.Errorf("key generation = %d, want 4", g)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestListKeys(t *testing.T) {
	f := newFakeStore(t)
	var want []string
	for i, tn := range []string{"acme", "globex", "acme", "acme", "globex"} {
		k, _, err := NewKey(tn, "read", "", baseTime.Add(time.Duration(5-i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		f.mustApply(t, CreateKey{Key: k})
		if tn == "acme" {
			want = append([]string{k.ID}, want...) // later keys were created earlier
		}
	}
	// Two keys with the same creation time sort by id.
	same1, _ := newTestKey(t, "acme", "read")
	same2, _ := newTestKey(t, "acme", "read")
	same1.CreatedAt, same2.CreatedAt = baseTime.Add(time.Hour), baseTime.Add(time.Hour)
	f.mustApply(t, CreateKey{Key: same1})
	f.mustApply(t, CreateKey{Key: same2})
	if same1.ID < same2.ID {
		want = append(want, same1.ID, same2.ID)
	} else {
		want = append(want, same2.ID, same1.ID)
	}
	f.mustApply(t, RevokeKey{ID: want[0], At: baseTime.Add(2 * time.Hour)})
	var got []APIKey
	if err := f.db.View(func(tx *bolt.Tx) (err error) { got, err = ListKeys(tx, "acme"); return }); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range got {
		ids = append(ids, k.ID)
		if k.Tenant != "acme" {
			t.Errorf("ListKeys(acme) returned a key of %s", k.Tenant)
		}
	}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("ListKeys ids = %v, want %v", ids, want)
	}
	if !got[0].Revoked {
		t.Error("revoked key not marked revoked in the list")
	}
	var none []APIKey
	if err := f.db.View(func(tx *bolt.Tx) (err error) { none, err = ListKeys(tx, "initech"); return }); err != nil || none == nil || len(none) != 0 {
		t.Fatalf("ListKeys(initech) = %v, %v; want an empty list", none, err)
	}
}

// Limits has the shape agent/document expects.
var _ = document.Config{Limits: Limits}
