package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func request(authz string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/collections", nil)
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	return r
}

func TestAdminKey(t *testing.T) {
	k, err := NewAdminKey("s3cret-key")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		header  string
		wantErr error
		wantMsg string
	}{
		{"ok", "Bearer s3cret-key", nil, ""},
		{"scheme case-insensitive", "bearer s3cret-key", nil, ""},
		{"missing header", "", ErrUnauthenticated, "missing Authorization header"},
		{"wrong scheme", "Basic czNjcmV0LWtleQ==", ErrUnauthenticated, "Bearer scheme"},
		{"no token", "Bearer ", ErrUnauthenticated, "empty bearer token"},
		{"wrong key", "Bearer s3cret-kez", ErrUnauthenticated, "invalid key"},
		{"prefix of key", "Bearer s3cret", ErrUnauthenticated, "invalid key"},
		{"key plus suffix", "Bearer s3cret-key2", ErrUnauthenticated, "invalid key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := k.Authenticate(request(tt.header))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Authenticate() error = %v", err)
				}
				want := Principal{Tenant: DefaultTenant, Role: RoleAdmin, KeyID: AdminKeyID}
				if p != want {
					t.Fatalf("Authenticate() = %+v, want %+v", p, want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Authenticate() error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Authenticate() error = %q, want it to contain %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error %q leaks the key", err)
			}
		})
	}
}

func TestNewAdminKeyRejects(t *testing.T) {
	for _, key := range []string{"", "has space", "tab\tkey", "nl\n"} {
		if _, err := NewAdminKey(key); err == nil {
			t.Errorf("NewAdminKey(%q) succeeded, want error", key)
		}
	}
}

func TestRoles(t *testing.T) {
	tests := []struct {
		have, need Role
		want       bool
	}{
		{RoleRead, RoleRead, true},
		{RoleRead, RoleReadWrite, false},
		{RoleRead, RoleAdmin, false},
		{RoleReadWrite, RoleRead, true},
		{RoleReadWrite, RoleReadWrite, true},
		{RoleReadWrite, RoleAdmin, false},
		{RoleAdmin, RoleRead, true},
		{RoleAdmin, RoleAdmin, true},
		{RoleNone, RoleRead, false},
		{RoleAdmin, RoleNone, false},
	}
	for _, tt := range tests {
		if got := tt.have.Allows(tt.need); got != tt.want {
			t.Errorf("%s.Allows(%s) = %v, want %v", tt.have, tt.need, got, tt.want)
		}
		err := Authorize(Principal{Role: tt.have}, tt.need)
		if (err == nil) != tt.want {
			t.Errorf("Authorize(%s, %s) = %v, want ok=%v", tt.have, tt.need, err, tt.want)
		}
		if err != nil && !errors.Is(err, ErrPermissionDenied) {
			t.Errorf("Authorize error %v does not wrap ErrPermissionDenied", err)
		}
	}
	for _, s := range []string{"read", "readwrite", "admin"} {
		r, err := ParseRole(s)
		if err != nil || r.String() != s {
			t.Errorf("ParseRole(%q) = %v, %v", s, r, err)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("ParseRole(root) succeeded")
	}
}

type fixed struct {
	p   Principal
	err error
}

func (f fixed) Authenticate(*http.Request) (Principal, error) { return f.p, f.err }

func TestChain(t *testing.T) {
	admin, err := NewAdminKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	reader := fixed{p: Principal{Tenant: "acme", Role: RoleRead, KeyID: "r1"}}
	broken := fixed{err: errors.New("key store down")}

	p, err := Chain{admin, reader}.Authenticate(request("Bearer other"))
	if err != nil || p.KeyID != "r1" {
		t.Fatalf("chain fell through to reader: got %+v, %v", p, err)
	}
	p, err = Chain{admin, reader}.Authenticate(request("Bearer k1"))
	if err != nil || p.Role != RoleAdmin {
		t.Fatalf("chain admin: got %+v, %v", p, err)
	}
	if _, err := (Chain{admin, broken, reader}).Authenticate(request("Bearer x")); err == nil || errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("chain with failing authenticator: err = %v, want the lookup failure", err)
	}
	if _, err := (Chain{admin}).Authenticate(request("Bearer x")); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("chain, no match: err = %v", err)
	}
	if _, err := (Chain{}).Authenticate(request("Bearer x")); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("empty chain: err = %v", err)
	}
	// An authenticator that took the token for its own is heard over
	// later refusals; one that did not (ErrOtherCredential) is not.
	specific := fmt.Errorf("%w: malformed api key", ErrUnauthenticated)
	other := fixed{err: ErrOtherCredential}
	for _, tc := range []struct {
		chain Chain
		want  error
	}{
		{Chain{fixed{err: specific}, admin}, specific},
		{Chain{admin, fixed{err: specific}}, specific},
		{Chain{other, admin}, ErrOtherCredential},
		{Chain{admin, other}, ErrOtherCredential},
	} {
		if _, err := tc.chain.Authenticate(request("Bearer x")); err != tc.want {
			t.Errorf("chain of %d: err = %v, want %v", len(tc.chain), err, tc.want)
		}
	}
}

func TestInsecure(t *testing.T) {
	p, err := Insecure{}.Authenticate(request(""))
	if err != nil || p.Role != RoleAdmin || p.Tenant != DefaultTenant {
		t.Fatalf("Insecure.Authenticate() = %+v, %v", p, err)
	}
}
