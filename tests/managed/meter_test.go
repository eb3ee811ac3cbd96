package managed

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aerolithdb/aerolith/internal/testwait"
)

// TestWipedNodeMeter: a follower killed and restarted on a wiped data
// directory under the same node id (a replaced disk; it restores the data
// from the cluster) numbers its usage records from 1 again; billing must
// bill them, not take them for duplicates of the old outbox's records.
// Writes go through the node before and after the wipe;
// billed writes must equal served writes exactly. On the old code the
// second outbox's records were answered "duplicate" and the writes served
// after the wipe were never billed. The node's dead letters are then read
// and replayed through the CLI (none here: every record was accepted).
func TestWipedNodeMeter(t *testing.T) {
	e := newEnv(t, envConfig{
		tiers:   []string{tierYAML("basic", "block", nil)},
		tenants: []tenantSpec{{"acme", "basic"}},
	})
	key := e.createKey(0, "acme", "readwrite", "meter-test")
	tl := newTally()
	tc := e.client("acme", key.Key, tl)
	e.waitServing(tc)
	ctx := context.Background()
	lctx, lcancel := context.WithTimeout(ctx, waitLimit)
	defer lcancel()
	leader, err := e.c.WaitLeader(lctx)
	if err != nil {
		t.Fatal(err)
	}
	node := (leader + 1) % e.c.N() // a follower: the supported wipe-and-restore path
	write := func(phase string, n int) {
		t.Helper()
		for i := range n {
			a := tc.call(ctx, kindWrite, 1, http.MethodPut, docURL(e.c.URL(node), "c", fmt.Sprintf("%s-%d", phase, i)), data(map[string]int{"i": i}))
			if a.Status != http.StatusCreated {
				t.Fatalf("PUT through %s = %s", e.c.NodeID(node), a)
			}
		}
	}
	billedEqualsServed := func(what string) {
		t.Helper()
		testwait.For(t, waitLimit, what, func() error {
			c := tl.get(e.id("acme"))
			b, err := e.billed(ctx, "acme")
			if err != nil {
				return err
			}
			if b.Writes != c.Served[kindWrite] {
				return fmt.Errorf("billed %d writes, served %d (ambiguous %d)", b.Writes, c.Served[kindWrite], c.Ambiguous[kindWrite])
			}
			return nil
		})
	}
	write("before", 15)
	billedEqualsServed("writes served before the wipe billed")

	if err := e.c.Kill(node); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(e.c.DataDir(node)); err != nil {
		t.Fatal(err)
	}
	if err := e.c.StartNode(node); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	if err := e.c.WaitReady(wctx, node); err != nil {
		t.Fatal(err)
	}
	e.waitServing(tc)
	write("after", 15)
	billedEqualsServed("writes served after the wipe billed")
	t.Logf("served and billed %d writes", tl.get(e.id("acme")).Served[kindWrite])

	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, append(args, "--url", e.c.URL(node), "--key", e.c.AdminKey())...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aerolith %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := cli("meter", "dead-letters", "list", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("dead letters = %s, want none", out)
	}
	if out := cli("meter", "dead-letters", "replay", "--all"); !strings.Contains(out, "0 dead letters replayed") {
		t.Fatalf("replay --all = %s", out)
	}
	var perNode []struct {
		Node        string            `json:"node_id"`
		DeadLetters []json.RawMessage `json:"dead_letters"`
	}
	if out := cli("meter", "dead-letters", "list", "--all-nodes", "-o", "json"); json.Unmarshal([]byte(out), &perNode) != nil || len(perNode) != e.c.N() {
		t.Fatalf("dead letters of every node = %s, want %d nodes", out, e.c.N())
	}
	for _, n := range perNode {
		if len(n.DeadLetters) != 0 {
			t.Errorf("node %s has dead letters %s", n.Node, n.DeadLetters)
		}
	}
	m := e.adminDo(ctx, http.MethodGet, e.c.URL(node)+"/metrics", nil)
	if m.Status != http.StatusOK || !strings.Contains(string(m.Body), "aerolith_meter_dead_letters 0") || !strings.Contains(string(m.Body), "aerolith_meter_ready 1") {
		t.Fatalf("metrics: %s", m)
	}
}
