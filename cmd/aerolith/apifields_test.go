package main

import (
	"strings"
	"testing"
)

// TestBillingRefusalNamesFlag: when billing refuses a request field with
// 400, the billing verbs exit 2 and name the flag or argument that set it,
// not the API's field; a bad value the service would ignore is refused
// before it is sent.
func TestBillingRefusalNamesFlag(t *testing.T) {
	startBilling(t, nil) // the CLI sends billingTestKey, the admin key
	tests := []struct {
		name string
		args []string
		want string // the start of the error after "aerolith: ": the flag, not the API's field
	}{
		{"wallet status with the admin key", []string{"wallet", "status"}, "--tenant: required with an admin key"},
		{"wallet status as json", []string{"wallet", "status", "-o", "json"}, "--tenant: required with an admin key"},
		{"wallet history", []string{"wallet", "history"}, "--tenant: required with an admin key"},
		{"wallet disconnect", []string{"wallet", "disconnect", "8NgYs6yR3wW7RZ3qQq9d1c1QmHRf6R5jhUJkSJNxKkwp"}, "--tenant: required with an admin key"},
		{"tenant create without flags", []string{"tenant", "create"}, "--org: required"},
		{"tenant create with a bad email", []string{"tenant", "create", "--org", "o", "--name", "n", "--email", "nope"}, "--email: invalid email address"},
		{"tenant create with an unknown tier", []string{"tenant", "create", "--org", "o", "--name", "n", "--email", "a@example.com", "--tier", "gold"}, "--tier: unknown tier"},
		{"tenant list over the page limit", []string{"tenant", "list", "--limit", "5000"}, "--limit: must be between 0 and 1000"},
		{"tenant list with a negative limit", []string{"tenant", "list", "--limit", "-1"}, "--limit and --offset: must be >= 0"},
		{"tenant suspend with a control character", []string{"tenant", "suspend", "tn_x", "--reason", "a\x01b"}, "--reason: contains control characters"},
		{"invoice list by an unknown status", []string{"invoice", "list", "--status", "late"}, "--status: \"late\" is unknown"},
		{"invoice pay by an unknown method", []string{"invoice", "pay", "in_x", "--amount", "1", "--ref", "r1", "--method", "cash"}, "--method: \"cash\" is not accepted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "", tc.args...)
			msg := strings.TrimPrefix(strings.TrimSpace(r.stderr), "aerolith: ")
			if r.code != 2 || !strings.HasPrefix(msg, tc.want) || r.stdout != "" {
				t.Fatalf("aerolith %s: exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout and an error starting %q",
					strings.Join(tc.args, " "), r.code, r.stdout, r.stderr, tc.want)
			}
		})
	}
	// An error that names no flag of the command stays as billing said it.
	r := runCLI(t, "", "tenant", "show", "tn_none")
	if r.code != 1 || !strings.Contains(r.stderr, "not found (404 not_found)") {
		t.Fatalf("tenant show of an unknown tenant: exit %d, stderr %q; want exit 1 and billing's 404", r.code, r.stderr)
	}
}
