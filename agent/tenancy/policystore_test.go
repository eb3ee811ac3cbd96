package tenancy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/auth"
	"github.com/aerolithdb/aerolith/agent/document"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/store"
)

func TestPolicyStoreSaveLoad(t *testing.T) {
	ctx := context.Background()
	f := newFakeStore(t)
	ps := NewPolicyStore(f, f)

	if _, ok, err := ps.Load(ctx, "acme"); ok || err != nil {
		t.Fatalf("Load before any save = %v, %v; want none", ok, err)
	}
	steps := []struct {
		name        string
		version     uint64
		wantPropose bool
		wantStored  uint64
	}{
		{"first", 2, true, 2},
		{"same version skipped", 2, false, 2},
		{"older skipped", 1, false, 2},
		{"newer proposed", 5, true, 5},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			before := f.proposalCount()
			sp := sign(t, testPolicy("acme", s.version, contract.Block))
			if err := ps.Save(ctx, "acme", sp); err != nil {
				t.Fatalf("Save = %v", err)
			}
			if proposed := f.proposalCount() > before; proposed != s.wantPropose {
				t.Fatalf("proposed = %v, want %v", proposed, s.wantPropose)
			}
			got, ok, err := ps.Load(ctx, "acme")
			if err != nil || !ok {
				t.Fatalf("Load = %v, %v", ok, err)
			}
			p, err := contract.VerifyPolicy(got, testSigner.Public().(ed25519.PublicKey))
			if err != nil || p.Version != s.wantStored {
				t.Fatalf("loaded policy verifies as version %d (%v), want %d", p.Version, err, s.wantStored)
			}
			if s.wantPropose && (!bytes.Equal(got.Payload, sp.Payload) || !bytes.Equal(got.Signature, sp.Signature) || got.KeyID != sp.KeyID) {
				t.Fatal("Load did not return the saved signed policy unchanged")
			}
		})
	}
	for _, c := range f.views {
		if c != store.Stale {
			t.Fatalf("policy store read with %v, want stale reads", c)
		}
	}
}

func TestPolicyStoreSaveErrors(t *testing.T) {
	ctx := context.Background()
	f := newFakeStore(t)
	ps := NewPolicyStore(f, f)
	tests := []struct {
		name   string
		tenant string
		sp     contract.SignedPolicy
		want   string
	}{
		{"other tenant's policy", "globex", sign(t, testPolicy("acme", 1, contract.Block)), `the signed policy is for tenant "acme"`},
		{"no payload", "acme", contract.SignedPolicy{}, "no payload"},
		{"unsigned", "acme", contract.SignedPolicy{Payload: sign(t, testPolicy("acme", 1, contract.Block)).Payload}, "signature is 0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ps.Save(ctx, tt.tenant, tt.sp)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Save = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	f.viewErr = errors.New("closed")
	if err := ps.Save(ctx, "acme", sign(t, testPolicy("acme", 1, contract.Block))); !errors.Is(err, f.viewErr) {
		t.Fatalf("Save with a failing view = %v", err)
	}
	if _, _, err := ps.Load(ctx, "acme"); !errors.Is(err, f.viewErr) {
		t.Fatalf("Load with a failing view = %v", err)
	}
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	f := newFakeStore(t)
	keys := NewKeys(f, f)
	tick := baseTime
	keys.now = func() time.Time { tick = tick.Add(time.Second); return tick }
	a := NewAuthenticator(f, nil)

	k, token, err := keys.Create(ctx, "acme", "readwrite", "app")
	if err != nil {
		t.Fatalf("Create = %v", err)
	}
	p, err := a.Authenticate(request(token))
	if err != nil || p != (auth.Principal{Tenant: "acme", Role: auth.RoleReadWrite, KeyID: k.ID}) {
		t.Fatalf("Authenticate(created key) = %+v, %v", p, err)
	}
	k2, _, err := keys.Create(ctx, "acme", "read", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := keys.Create(ctx, "globex", "admin", ""); err != nil {
		t.Fatal(err)
	}
	list, err := keys.List(ctx, "acme")
	if err != nil || len(list) != 2 || list[0].ID != k.ID || list[1].ID != k2.ID {
		t.Fatalf("List(acme) = %+v, %v; want the two acme keys in creation order", list, err)
	}
	if f.views[len(f.views)-1] != store.Linearizable {
		t.Fatal("List does not read linearizably")
	}

	r, err := keys.Revoke(ctx, k.ID)
	if err != nil || !r.Revoked || r.RevokedAt.IsZero() {
		t.Fatalf("Revoke = %+v, %v", r, err)
	}
	if _, err := a.Authenticate(request(token)); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("Authenticate after Revoke = %v", err)
	}
	again, err := keys.Revoke(ctx, k.ID)
	if err != nil || !again.RevokedAt.Equal(r.RevokedAt) {
		t.Fatalf("second Revoke = %+v, %v; want the first revocation time", again, err)
	}

	if _, err := keys.Revoke(ctx, "0123456789abcdef"); !errors.Is(err, ErrNotFound) || !errors.Is(err, document.ErrNotFound) {
		t.Fatalf("Revoke(unknown) = %v, want not found", err)
	}
	for _, bad := range []func() error{
		func() error { _, err := keys.Revoke(ctx, "xyz"); return err },
		func() error { _, _, err := keys.Create(ctx, "", "read", ""); return err },
		func() error { _, _, err := keys.Create(ctx, "acme", "superuser", ""); return err },
		func() error { _, err := keys.List(ctx, "no/such"); return err },
	} {
		if err := bad(); !errors.Is(err, document.ErrInvalid) {
			t.Errorf("bad argument gave %v, want an invalid-argument error", err)
		}
	}
}
