package managed

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/internal/testwait"
)

// TestRevokeWindow revokes a key through one node, then at once (no sleep,
// no retry) uses it on every node, followers included: every answer must
// be 401. Forty rounds rotate the node that creates and the node that
// revokes, so the revocation is answered by the leader and by followers
// (which forward it). Before revoke waited for every member, a follower
// accepted the key for 8-15 ms after the revocation returned.
func TestRevokeWindow(t *testing.T) {
	e := newEnv(t, envConfig{
		tiers:   []string{tierYAML("roomy", "block", nil)},
		tenants: []tenantSpec{{"acme", "roomy"}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	spare := e.client("acme", e.createKey(0, "acme", "read", "spare").Key, nil)
	e.waitServing(e.client("acme", e.createKey(0, "acme", "readwrite", "probe").Key, nil))
	read := func(tc *tenantClient, i int) answer {
		return tc.call(ctx, kindRead, 1, http.MethodGet, docURL(e.c.URL(i), "notes", "n1"), nil)
	}
	const rounds = 40
	for r := range rounds {
		k := e.createKey(r%e.c.N(), "acme", "read", fmt.Sprintf("round-%d", r))
		tc := e.client("acme", k.Key, nil)
		testwait.For(t, waitLimit, "the new key works on every node", func() error {
			for i := range e.c.N() {
				if a := read(tc, i); a.Status != http.StatusNotFound {
					return fmt.Errorf("%s: %s", e.c.NodeID(i), a)
				}
			}
			return nil
		})
		via := (r + 1) % e.c.N()
		if a := e.adminDo(ctx, http.MethodDelete, e.c.URL(via)+"/api/v1/keys/"+k.ID, nil); a.Status != http.StatusOK {
			t.Fatalf("round %d: revoke through %s: %s", r, e.c.NodeID(via), a)
		}
		// The node that answered first, then the others.
		for j := range e.c.N() {
			i := (via + j) % e.c.N()
			if a := read(tc, i); a.Status != http.StatusUnauthorized || a.Code != "unauthenticated" {
				t.Fatalf("round %d: right after the revocation through %s returned, %s answered the key with %s, want 401", r, e.c.NodeID(via), e.c.NodeID(i), a)
			}
		}
	}
	for i := range e.c.N() {
		if a := read(spare, i); a.Status != http.StatusNotFound {
			t.Errorf("%s: the tenant's other key: %s, want it served (404)", e.c.NodeID(i), a)
		}
	}
}

// TestRevokeWithPausedFollower revokes a key while a follower is frozen
// (SIGSTOP: it cannot confirm that it applied the revocation). The
// revocation still returns, after about tenancy.Lease, and once the
// follower runs again it never accepts the key: its lease ran out while it
// was frozen, so it catches up with the leader (and applies the
// revocation) before it trusts its state. It may answer 503 while it
// finds the leader again, never 2xx or 404.
func TestRevokeWithPausedFollower(t *testing.T) {
	e := newEnv(t, envConfig{
		tiers:   []string{tierYAML("roomy", "block", nil)},
		tenants: []tenantSpec{{"acme", "roomy"}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	k := e.createKey(0, "acme", "read", "frozen")
	tc := e.client("acme", k.Key, nil)
	read := func(i int) answer {
		return tc.call(ctx, kindRead, 1, http.MethodGet, docURL(e.c.URL(i), "notes", "n1"), nil)
	}
	testwait.For(t, waitLimit, "the key works on every node", func() error {
		for i := range e.c.N() {
			if a := read(i); a.Status != http.StatusNotFound {
				return fmt.Errorf("%s: %s", e.c.NodeID(i), a)
			}
		}
		return nil
	})
	leader, err := e.c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	frozen := (leader + 1) % e.c.N()
	if err := e.c.Pause(frozen); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	a := e.adminDo(ctx, http.MethodDelete, e.c.URL(leader)+"/api/v1/keys/"+k.ID, nil)
	took := time.Since(start)
	if a.Status != http.StatusOK {
		t.Fatalf("revoke through the leader %s with %s frozen: %s", e.c.NodeID(leader), e.c.NodeID(frozen), a)
	}
	for i := range e.c.N() {
		if i == frozen {
			continue
		}
		if a := read(i); a.Status != http.StatusUnauthorized {
			t.Fatalf("right after the revocation returned, %s answered the key with %s, want 401", e.c.NodeID(i), a)
		}
	}
	if err := e.c.Resume(frozen); err != nil {
		t.Fatal(err)
	}
	t.Logf("revocation with %s frozen returned after %v", e.c.NodeID(frozen), took.Round(time.Millisecond))
	testwait.For(t, waitLimit, e.c.NodeID(frozen)+" refuses the key once it runs again", func() error {
		a := read(frozen)
		switch a.Status {
		case http.StatusUnauthorized:
			return nil
		case http.StatusServiceUnavailable, 0:
			return fmt.Errorf("%s: %s", e.c.NodeID(frozen), a) // finding the leader again
		}
		t.Fatalf("%s, resumed after the revocation returned, answered the key with %s", e.c.NodeID(frozen), a)
		return nil
	})
}

// TestSuspendWindow suspends and resumes a tenant in billing several
// times. Each node's policy fetcher that saves the new policy into the
// replicated state records it in its audit log (policy.apply) once the save
// returned; the moment the first such record appears on any node, the
// tenant's writes must be refused (402) on every node at once — or, for a
// resumption, served on every node at once. Before the fix, each node
// enforced only the policies its own fetcher fetched, up to a refresh
// later.
func TestSuspendWindow(t *testing.T) {
	e := newEnv(t, envConfig{
		tiers:   []string{tierYAML("roomy", "block", nil)},
		tenants: []tenantSpec{{"acme", "roomy"}},
		refresh: time.Second,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tc := e.client("acme", e.createKey(0, "acme", "readwrite", "writer").Key, nil)
	e.waitServing(tc)
	write := func(i, n int) answer {
		return tc.call(ctx, kindWrite, 1, http.MethodPut, docURL(e.c.URL(i), "notes", fmt.Sprintf("n%d-%d", i, n)), data(map[string]int{"n": n}))
	}
	tenant := e.id("acme")
	var seen uint64 // the highest policy version recorded so far
	for n := range 6 {
		suspend := n%2 == 0
		var err error
		if suspend {
			_, err = e.admin.SuspendTenant(ctx, tenant, "unpaid invoice")
		} else {
			_, err = e.admin.ResumeTenant(ctx, tenant, "paid")
		}
		if err != nil {
			t.Fatal(err)
		}
		want := "active"
		if suspend {
			want = "suspended"
		}
		// Poll the audit logs (no request to the agents meanwhile) for a
		// save of a newer policy with the wanted status.
		testwait.For(t, 30*time.Second, "a node saved the "+want+" policy", func() error {
			for i := range e.c.N() {
				v, status, err := lastPolicyApply(filepath.Join(e.c.DataDir(i), "audit", "audit.jsonl"), tenant)
				if err != nil {
					return err
				}
				if v > seen && status == want {
					seen = v
					return nil
				}
			}
			return fmt.Errorf("no node recorded a %s policy above version %d yet", want, seen)
		})
		for i := range e.c.N() {
			a := write(i, n)
			switch {
			case suspend && a.Status != http.StatusPaymentRequired:
				t.Fatalf("suspension %d: right after a node's save returned, %s answered a write with %s, want 402", n, e.c.NodeID(i), a)
			case !suspend && a.Status/100 != 2:
				t.Fatalf("resumption %d: right after a node's save returned, %s answered a write with %s, want it served", n, e.c.NodeID(i), a)
			}
		}
	}
}

// lastPolicyApply returns the version and status of the last policy.apply
// record of tenant in the audit log at path (0, "" when there is none).
func lastPolicyApply(path, tenant string) (uint64, string, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	var version uint64
	var status string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev struct {
			Action string            `json:"action"`
			Target string            `json:"target"`
			Detail map[string]string `json:"detail"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Action != "policy.apply" || ev.Target != "tenant:"+tenant {
			continue // a line being written, or another event
		}
		if v, err := strconv.ParseUint(ev.Detail["version"], 10, 64); err == nil && v >= version {
			version, status = v, ev.Detail["status"]
		}
	}
	return version, status, sc.Err()
}
