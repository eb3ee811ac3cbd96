package policy_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/policy"
	"github.com/aerolithdb/aerolith/billing/contract"
)

func TestNewValidates(t *testing.T) {
	cases := []struct {
		name string
		cfg  policy.Config
		want string
	}{
		{"no store", policy.Config{BillingURL: "http://b", EnrollmentToken: "x"}, "store: required"},
		{"no url", policy.Config{EnrollmentToken: "x", Store: newMemStore()}, "billing url: required"},
		{"no token", policy.Config{BillingURL: "http://b", Store: newMemStore()}, "enrollment token: required"},
		{"bad key", policy.Config{BillingURL: "http://b", EnrollmentToken: "x", Store: newMemStore(), PublicKey: []byte{1, 2}},
			"public key: want 32 bytes"},
		{"jitter", policy.Config{BillingURL: "http://b", EnrollmentToken: "x", Store: newMemStore(), Refresh: time.Second, Jitter: time.Second},
			"jitter: must be at least 0 and below refresh"},
		{"negative refresh", policy.Config{BillingURL: "http://b", EnrollmentToken: "x", Store: newMemStore(), Refresh: -1}, "refresh: must be positive"},
		{"empty tenant", policy.Config{BillingURL: "http://b", EnrollmentToken: "x", Store: newMemStore(), Tenants: []string{""}}, "empty tenant id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := policy.New(c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New = %v, want error containing %q", err, c.want)
			}
		})
	}
}

// TestPinnedKey: with the key pinned, policies verify against it, stored
// policies are verified on load, and a store written under another key is
// not trusted.
func TestPinnedKey(t *testing.T) {
	b := startBilling(t)
	ctx := context.Background()
	pub, _, err := b.admin.PublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store := newMemStore()
	f := newFetcher(t, b.url, b.token, b.tenant, store, pub, nil)
	if err := f.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if p, err := f.Policy(b.tenant); err != nil || p.Tier != "starter" {
		t.Fatalf("Policy = %+v, %v", p, err)
	}
	if got, want := f.Status().KeyID, contract.KeyID(pub); got != want {
		t.Fatalf("KeyID = %s, want %s", got, want)
	}

	// Restarted with the same pin: the stored policy verifies and is
	// served before billing is asked.
	f2 := newFetcher(t, "http://127.0.0.1:1", b.token, b.tenant, store, pub, nil)
	if err := f2.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	if p, err := f2.Policy(b.tenant); err != nil || p.Tier != "starter" {
		t.Fatalf("Policy after restart = %+v, %v", p, err)
	}

	// Pinned to another key: neither the stored policy nor billing's is
	// trusted; writes stay refused (ErrNoPolicy).
	other, _, _ := ed25519.GenerateKey(nil)
	f3 := newFetcher(t, b.url, b.token, b.tenant, store, other, nil)
	if err := f3.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer f3.Close()
	if err := f3.Refresh(ctx); !errors.Is(err, contract.ErrBadSignature) {
		t.Fatalf("Refresh with the wrong pin = %v, want ErrBadSignature", err)
	}
	if _, err := f3.Policy(b.tenant); !errors.Is(err, policy.ErrNoPolicy) || !strings.Contains(err.Error(), b.tenant) {
		t.Fatalf("Policy with the wrong pin = %v, want ErrNoPolicy naming the tenant", err)
	}

	// SetTenants: an unknown tenant fails to fetch without disturbing the
	// others; a dropped tenant is forgotten.
	if err := f.SetTenants([]string{b.tenant, "tn_unknown"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "tn_unknown") {
		t.Fatalf("Refresh with an unknown tenant = %v, want an error naming it", err)
	}
	if _, err := f.Policy(b.tenant); err != nil {
		t.Fatalf("Policy of the known tenant = %v", err)
	}
	if err := f.SetTenants(nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Current(b.tenant); ok {
		t.Fatal("dropped tenant still has a policy")
	}
}
