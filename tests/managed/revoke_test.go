package managed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/testwait"
)

// TestRevocationAndSuspension checks that access changes reach every node:
//
//   - a key revoked with `aerolith key revoke` (a raft command) is refused
//     by every node as soon as the command returns (each node is asked
//     once, no retry; TestRevokeWindow repeats this 40 times), while the
//     tenant's other keys keep working;
//   - a key revoked in billing (listed in the tenant's signed policy) is
//     refused by every node within a policy refresh;
//   - a tenant suspended in billing can still read on every node, and its
//     writes are refused with 402 and a message pointing at its unpaid
//     invoice; once resumed, its writes are served on every node again.
//     Another tenant of the cluster is not affected.
func TestRevocationAndSuspension(t *testing.T) {
	const refresh = time.Second
	e := newEnv(t, envConfig{
		tiers:   []string{tierYAML("roomy", "block", nil)},
		tenants: []tenantSpec{{"acme", "roomy"}, {"other", "roomy"}},
		refresh: refresh,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var created keyOut
	cli(t, e, 0, &created, "key", "create", "--tenant", e.id("acme"), "--role", "readwrite", "--name", "ci")
	if created.Key == "" || created.Tenant != e.id("acme") || created.Role != "readwrite" {
		t.Fatalf("aerolith key create printed %+v, want a readwrite key of %s", created, e.id("acme"))
	}
	revoked := e.client("acme", created.Key, nil)
	spare := e.client("acme", e.createKey(1, "acme", "readwrite", "spare").Key, nil)
	other := e.client("other", e.createKey(2, "other", "readwrite", "other").Key, nil)
	e.waitServing(revoked, spare, other)

	read := func(tc *tenantClient, i int) answer {
		return tc.call(ctx, kindRead, 1, http.MethodGet, docURL(e.c.URL(i), "notes", "n1"), nil)
	}
	write := func(tc *tenantClient, i int) answer {
		return tc.call(ctx, kindWrite, 1, http.MethodPut, docURL(e.c.URL(i), "notes", fmt.Sprintf("n%d", i)), data(map[string]int{"node": i}))
	}
	// refusedEverywhere polls every node (each within limit of the call)
	// until it answers the key with 401 api key revoked.
	refusedEverywhere := func(what string, tc *tenantClient, since time.Time, limit time.Duration) {
		t.Helper()
		for i := range e.c.N() {
			var last answer
			err := testwait.Poll(limit-time.Since(since), fmt.Sprintf("%s: %s refuses the key", what, e.c.NodeID(i)), func() error {
				last = read(tc, i)
				if last.Status != http.StatusUnauthorized {
					return fmt.Errorf("read: %s", last)
				}
				return nil
			})
			if err != nil {
				t.Errorf("%v", err)
				continue
			}
			if last.Code != "unauthenticated" || !strings.Contains(last.Message, "revoked") {
				t.Errorf("%s: %s answered %s, want 401 unauthenticated saying the key is revoked", what, e.c.NodeID(i), last)
			}
			if strings.Contains(string(last.Body), e.id("acme")) {
				t.Errorf("%s: the refusal names the tenant: %s", what, last.Body)
			}
		}
		t.Logf("%s: refused on every node %v after the revocation returned", what, time.Since(since).Round(time.Millisecond))
	}

	t.Run("revoke through raft", func(t *testing.T) {
		var k keyOut
		cli(t, e, 2, &k, "key", "revoke", created.ID)
		at := time.Now()
		if k.ID != created.ID {
			t.Fatalf("aerolith key revoke printed %+v, want key %s", k, created.ID)
		}
		// At once: revoke returns once every node applied the revocation
		// (or cannot accept the key before catching up), so a limit of 0
		// asks each node once.
		refusedEverywhere("key revoke", revoked, at, 0)
		for i := range e.c.N() {
			if a := read(spare, i); a.Status != http.StatusNotFound {
				t.Errorf("%s: the tenant's other key: %s, want it served (404)", e.c.NodeID(i), a)
			}
		}
		var list struct {
			Keys []struct {
				ID      string `json:"id"`
				Revoked bool   `json:"revoked"`
			} `json:"keys"`
		}
		cli(t, e, 1, &list, "key", "list", "--tenant", e.id("acme"))
		found := false
		for _, k := range list.Keys {
			if k.ID == created.ID {
				found = true
				if !k.Revoked {
					t.Errorf("aerolith key list shows %s not revoked", k.ID)
				}
			}
		}
		if !found {
			t.Errorf("aerolith key list does not show the revoked key %s: %+v", created.ID, list.Keys)
		}
	})

	t.Run("revoke through billing", func(t *testing.T) {
		k := e.createKey(0, "acme", "read", "billing-revoked")
		tc := e.client("acme", k.Key, nil)
		testwait.For(t, waitLimit, "the new key works on every node", func() error {
			for i := range e.c.N() {
				if a := read(tc, i); a.Status != http.StatusNotFound {
					return fmt.Errorf("%s: %s", e.c.NodeID(i), a)
				}
			}
			return nil
		})
		// Billing lists the key in the tenant's policy (ledger
		// RevokeAgentKey); every node's policy fetcher picks it up.
		ten, err := e.admin.RevokeAgentKey(ctx, e.id("acme"), k.ID)
		if err != nil {
			t.Fatalf("revoke agent key %s in billing: %v", k.ID, err)
		}
		if !slices.Contains(ten.RevokedAgentKeys, k.ID) {
			t.Fatalf("billing's tenant lists revoked agent keys %v, want %s among them", ten.RevokedAgentKeys, k.ID)
		}
		at := time.Now()
		// Within one refresh: the refresh interval is a mean, so allow
		// three of them plus the time to propose the policy.
		refusedEverywhere("billing revocation", tc, at, 3*refresh+2*time.Second)
		if a := read(spare, 0); a.Status != http.StatusNotFound {
			t.Errorf("the tenant's other key after a billing revocation: %s", a)
		}
	})

	t.Run("suspend and resume", func(t *testing.T) {
		if _, err := e.admin.SuspendTenant(ctx, e.id("acme"), "unpaid invoice"); err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		for i := range e.c.N() {
			var last answer
			testwait.For(t, 3*refresh+10*time.Second, e.c.NodeID(i)+" refuses writes of the suspended tenant", func() error {
				last = write(spare, i)
				if last.Status != http.StatusPaymentRequired {
					return fmt.Errorf("write: %s", last)
				}
				return nil
			})
			checkRefusal(t, last, http.StatusPaymentRequired, "payment_required", "suspended", "/api/v1/invoices?tenant_id="+e.id("acme"))
			if a := read(spare, i); a.Status != http.StatusNotFound && a.Status != http.StatusOK {
				t.Errorf("%s: read of the suspended tenant: %s, want it served", e.c.NodeID(i), a)
			}
			if a := write(other, i); a.Status/100 != 2 {
				t.Errorf("%s: write of another tenant during the suspension: %s", e.c.NodeID(i), a)
			}
		}
		t.Logf("suspension in force on every node %v after billing answered", time.Since(at).Round(time.Millisecond))
		if _, err := e.admin.ResumeTenant(ctx, e.id("acme"), "paid"); err != nil {
			t.Fatal(err)
		}
		at = time.Now()
		for i := range e.c.N() {
			testwait.For(t, 3*refresh+10*time.Second, e.c.NodeID(i)+" serves writes of the resumed tenant", func() error {
				if a := write(spare, i); a.Status/100 != 2 {
					return fmt.Errorf("write: %s", a)
				}
				return nil
			})
		}
		t.Logf("resumption in force on every node %v after billing answered", time.Since(at).Round(time.Millisecond))
	})
}

// cli runs `aerolith <args> -o json --url <node i> --key <admin key>` and
// decodes its output into out.
func cli(t *testing.T, e *env, i int, out any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args = append(args, "-o", "json", "--url", e.c.URL(i), "--key", e.c.AdminKey())
	cmd := exec.CommandContext(ctx, binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("aerolith %s: %v\nstdout: %s\nstderr: %s", strings.Join(args[:len(args)-2], " "), err, stdout.Bytes(), stderr.Bytes())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("aerolith %s: output %q: %v", strings.Join(args[:2], " "), stdout.Bytes(), err)
	}
}
