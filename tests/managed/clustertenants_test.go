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

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/testwait"
)

// TestClusterTenants adds a tenant to a running three-node cluster in
// billing (`aerolith cluster tenants add`), creates a key for it at once,
// writes and reads on every node, then removes it: refused without
// --force, and with --force its keys are refused on every node while its
// data stays, served again when the tenant is added back. Before, a second
// tenant could not be served by an existing cluster: key create answered
// "not served by this cluster" and billing had no way to add it.
func TestClusterTenants(t *testing.T) {
	const refresh = 5 * time.Second
	e := newEnv(t, envConfig{
		tiers:   []string{tierYAML("roomy", "block", nil)},
		tenants: []tenantSpec{{"acme", "roomy"}},
		refresh: refresh,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ten, err := e.admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "Org newco", Name: "newco", Tier: "roomy", Email: "newco@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	e.ids["newco"] = ten.ID
	acme := e.client("acme", e.createKey(0, "acme", "readwrite", "acme").Key, nil)
	e.waitServing(acme)

	// Not served yet: the cluster refuses keys for it.
	a := e.adminDo(ctx, http.MethodPost, e.c.URL(1)+"/api/v1/keys", mustJSON(map[string]string{"tenant": ten.ID, "role": "readwrite"}))
	if a.Status != http.StatusBadRequest || !strings.Contains(a.Message, "not served by this cluster") || !strings.Contains(a.Message, "cluster tenants add") {
		t.Fatalf("key for a tenant the cluster does not serve: %s, want 400 naming the fix", a)
	}

	var added billingclient.ClusterTenants
	billingCLIJSON(t, e, &added, "cluster", "tenants", "add", e.clusterID, ten.ID)
	if !slices.Contains(added.Tenants, ten.ID) || !slices.Contains(added.Tenants, e.id("acme")) {
		t.Fatalf("cluster tenants add printed %+v", added)
	}
	at := time.Now()
	// The key is created at once: the node asks billing for the cluster's
	// tenants when it does not know the tenant.
	newco := e.client("newco", e.createKey(1, "newco", "readwrite", "newco").Key, nil)
	for i := range e.c.N() {
		testwait.For(t, waitLimit, fmt.Sprintf("%s serves writes of the added tenant", e.c.NodeID(i)), func() error {
			a := newco.call(ctx, kindWrite, 1, http.MethodPut, docURL(e.c.URL(i), "notes", fmt.Sprintf("n%d", i)), data(map[string]int{"node": i}))
			if a.Status/100 != 2 {
				return fmt.Errorf("write: %s", a)
			}
			return nil
		})
	}
	t.Logf("added tenant served for writes on every node %v after billing answered", time.Since(at).Round(time.Millisecond))
	for i := range e.c.N() {
		if a := newco.call(ctx, kindRead, 1, http.MethodGet, docURL(e.c.URL(i), "notes", "n0"), nil); a.Status != http.StatusOK {
			t.Errorf("%s: read of the added tenant: %s", e.c.NodeID(i), a)
		}
	}
	// Every node keeps the new tenant in its enrollment, so a restart
	// during a billing outage still serves it.
	var listed billingclient.ClusterTenants
	billingCLIJSON(t, e, &listed, "cluster", "tenants", "list", e.clusterID)
	if !slices.Equal(listed.Tenants, added.Tenants) {
		t.Fatalf("cluster tenants list printed %+v, want %v", listed, added.Tenants)
	}

	// Removing refuses while billing cannot tell the data is gone.
	out, errOut, err := billingCLI(e, "cluster", "tenants", "remove", e.clusterID, ten.ID)
	if err == nil || !strings.Contains(errOut, "may still have data") || !strings.Contains(errOut, "--force") {
		t.Fatalf("cluster tenants remove without --force: %v\nstdout %s\nstderr %s", err, out, errOut)
	}
	if a := newco.call(ctx, kindRead, 1, http.MethodGet, docURL(e.c.URL(0), "notes", "n0"), nil); a.Status != http.StatusOK {
		t.Fatalf("after a refused removal: %s, want the tenant still served", a)
	}
	var removed billingclient.ClusterTenants
	billingCLIJSON(t, e, &removed, "cluster", "tenants", "remove", e.clusterID, ten.ID, "--force")
	if slices.Contains(removed.Tenants, ten.ID) {
		t.Fatalf("cluster tenants remove --force printed %+v", removed)
	}
	at = time.Now()
	for i := range e.c.N() {
		var last answer
		testwait.For(t, 3*refresh+10*time.Second, fmt.Sprintf("%s refuses the removed tenant's key", e.c.NodeID(i)), func() error {
			last = newco.call(ctx, kindRead, 1, http.MethodGet, docURL(e.c.URL(i), "notes", "n0"), nil)
			if last.Status != http.StatusForbidden {
				return fmt.Errorf("read: %s", last)
			}
			return nil
		})
		checkRefusal(t, last, http.StatusForbidden, "permission_denied", "not served by this cluster", "kept")
		if a := acme.call(ctx, kindWrite, 1, http.MethodPut, docURL(e.c.URL(i), "notes", "a"), data(map[string]int{"n": i})); a.Status/100 != 2 {
			t.Errorf("%s: the other tenant after the removal: %s", e.c.NodeID(i), a)
		}
	}
	t.Logf("removed tenant refused on every node %v after billing answered", time.Since(at).Round(time.Millisecond))

	// Nothing was deleted: added back, the same key reads the same data.
	billingCLIJSON(t, e, &added, "cluster", "tenants", "add", e.clusterID, ten.ID)
	for i := range e.c.N() {
		testwait.For(t, waitLimit, fmt.Sprintf("%s serves the tenant added back", e.c.NodeID(i)), func() error {
			a := newco.call(ctx, kindRead, 1, http.MethodGet, docURL(e.c.URL(i), "notes", fmt.Sprintf("n%d", i)), nil)
			if a.Status != http.StatusOK || !strings.Contains(string(a.Body), fmt.Sprintf(`"node":%d`, i)) {
				return fmt.Errorf("read: %s", a)
			}
			return nil
		})
	}
}

// billingCLI runs `aerolith <args>` against billing with its admin key.
func billingCLI(e *env, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args = append(args, "--billing-url", e.bill.url(), "--key", e.bill.key, "--insecure-http")
	cmd := exec.CommandContext(ctx, binary, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// billingCLIJSON runs a billing verb with -o json and decodes its output.
func billingCLIJSON(t *testing.T, e *env, out any, args ...string) {
	t.Helper()
	stdout, stderr, err := billingCLI(e, append(args, "-o", "json")...)
	if err != nil {
		t.Fatalf("aerolith %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		t.Fatalf("aerolith %s: output %q: %v", strings.Join(args, " "), stdout, err)
	}
}
