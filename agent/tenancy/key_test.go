package tenancy

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

var keyPattern = regexp.MustCompile(`^ak_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$`)

func TestNewKey(t *testing.T) {
	now := time.Date(2025, 5, 6, 7, 8, 9, 10, time.FixedZone("x", 3600))
	k, s, err := NewKey("acme", "read-write", "ci deploy", now)
	if err != nil {
		t.Fatalf("NewKey = %v", err)
	}
	if !keyPattern.MatchString(s) {
		t.Fatalf("key string %q does not match %v", s, keyPattern)
	}
	id, secret, err := ParseKey(s)
	if err != nil {
		t.Fatalf("ParseKey(NewKey) = %v", err)
	}
	if id != k.ID || HashSecret(secret) != k.Hash {
		t.Fatalf("ParseKey = %s, hash mismatch; key id %s", id, k.ID)
	}
	if strings.Contains(string(k.Hash[:]), secret) {
		t.Fatal("the secret is stored")
	}
	if k.Tenant != "acme" || k.Role != "readwrite" || k.Name != "ci deploy" || !k.CreatedAt.Equal(now) || k.CreatedAt.Location() != time.UTC || k.Revoked {
		t.Fatalf("NewKey = %+v", k)
	}
	k2, s2, err := NewKey("acme", "read", "", now)
	if err != nil || k2.ID == k.ID || s2 == s {
		t.Fatalf("two keys are not distinct: %v", err)
	}

	bad := []struct {
		name, tenant, role, key string
		now                     time.Time
		want                    string
	}{
		{"no tenant", "", "read", "", now, "missing tenant"},
		{"bad tenant", "a/b", "read", "", now, "invalid tenant"},
		{"bad role", "acme", "root", "", now, "unknown role"},
		{"bad name", "acme", "read", "\x00", now, "control character"},
		{"no time", "acme", "read", "", time.Time{}, "creation time"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := NewKey(tt.tenant, tt.role, tt.key, tt.now)
			wantCode(t, err, CodeInvalid)
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewKey = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	const id = "0123456789abcdef"
	secret := strings.Repeat("A", 42) + "E" // 43 chars; last char's spare bits zero
	good := KeyPrefix + id + "_" + secret
	if gid, gs, err := ParseKey(good); err != nil || gid != id || gs != secret {
		t.Fatalf("ParseKey(good) = %q, %q, %v", gid, gs, err)
	}
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "does not start with"},
		{"other prefix", "sk_" + id + "_" + secret, "does not start with"},
		{"upper prefix", "AK_" + id + "_" + secret, "does not start with"},
		{"short", KeyPrefix + id, "characters, want 63"},
		{"long", good + "A", "characters, want 63"},
		{"uppercase id", KeyPrefix + strings.ToUpper(id) + "_" + secret, "lowercase hex"},
		{"non-hex id", KeyPrefix + "0123456789abcdeg_" + secret, "lowercase hex"},
		{"no separator", KeyPrefix + id + "-" + secret, "no '_' after the id"},
		{"bad secret char", KeyPrefix + id + "_" + strings.Repeat("A", 42) + "=", "base64url"},
		{"space in secret", KeyPrefix + id + "_" + strings.Repeat("A", 42) + " ", "base64url"},
		{"non-canonical secret", KeyPrefix + id + "_" + strings.Repeat("A", 42) + "B", "canonical"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseKey(tt.in)
			if !errors.Is(err, ErrMalformedKey) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseKey = %v, want ErrMalformedKey mentioning %q", err, tt.want)
			}
			if tt.in != "" && len(tt.in) > 10 && strings.Contains(err.Error(), tt.in[len(KeyPrefix):]) {
				t.Fatalf("error %q echoes the key", err)
			}
		})
	}
}

func FuzzParseKey(f *testing.F) {
	_, s, _ := NewKey("acme", "read", "", baseTime)
	f.Add(s)
	f.Add("ak_")
	f.Add("ak_0123456789abcdef_" + strings.Repeat("-", 43))
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := ParseKey(s)
		if err != nil {
			return
		}
		if KeyPrefix+id+"_"+secret != s || !keyPattern.MatchString(s) {
			t.Fatalf("ParseKey accepted %q as %q, %q", s, id, secret)
		}
	})
}
