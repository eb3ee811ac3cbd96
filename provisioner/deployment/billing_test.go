package deployment

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/service/servicetest"
	"github.com/aerolithdb/aerolith/provisioner"
)

const testBillingKey = "deployment-test-billing-admin-key-0123"

// Environment of the child process TestKilledRegistrationRegistersOnce
// kills.
const (
	envBeginState   = "AEROLITH_TEST_BEGIN_STATE"
	envBeginBilling = "AEROLITH_TEST_BEGIN_BILLING"
	envBeginTenant  = "AEROLITH_TEST_BEGIN_TENANT"
)

func testClient(t *testing.T, url, key string) *billingclient.Client {
	t.Helper()
	c, err := billingclient.New(billingclient.Config{URL: url, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// begin runs Store.Begin as cluster create does for a managed local
// cluster of tenant (plain HTTP: no CA to make), with an Env that holds
// only the record and secrets.
func begin(ctx context.Context, t *testing.T, dir string, bc *billingclient.Client, billingURL, tenant string) (*Env, bool, error) {
	t.Helper()
	c := Create{
		Record:       Record{Spec: provisioner.ClusterSpec{Name: "shop", Cloud: provisioner.Local, Nodes: 3}, InsecureHTTP: true},
		Billing:      bc,
		Registration: Registration{BillingURL: billingURL, Tenants: []string{tenant}},
	}
	return Store{Dir: dir}.Begin(ctx, c, func(r *Record, s *Secrets) (*Env, error) { return &Env{Rec: r, Sec: s}, nil })
}

// TestKilledRegistrationRegistersOnce SIGKILLs a create after billing
// registered its cluster and before the answer reached it (a proxy holds
// billing's answer), then creates again: billing has registered one
// cluster, the one the record names, whose enrollment token the secrets
// hold.
func TestKilledRegistrationRegistersOnce(t *testing.T) {
	if dir := os.Getenv(envBeginState); dir != "" {
		bc := testClient(t, os.Getenv(envBeginBilling), testBillingKey)
		begin(context.Background(), t, dir, bc, os.Getenv(envBeginBilling), os.Getenv(envBeginTenant))
		for { // wait to be killed (not select{}: alone, that is a deadlock exit)
			time.Sleep(time.Hour)
		}
	}
	svc := servicetest.Start(t, testBillingKey, nil)
	billingURL := "http://" + svc.HTTPAddr()
	admin := testClient(t, billingURL, testBillingKey)
	ctx := context.Background()
	ten, err := admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "Acme", Name: "acme", Tier: "starter", Email: "ap@acme.example"})
	if err != nil {
		t.Fatal(err)
	}

	// The proxy passes everything to billing but holds the answer of a
	// registration billing accepted until the test ends.
	target, _ := url.Parse(billingURL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	registered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodPost && resp.Request.URL.Path == "/api/v1/clusters" && resp.StatusCode < 300 {
			once.Do(func() { close(registered) })
			select {
			case <-release:
			case <-resp.Request.Context().Done():
			}
		}
		return nil
	}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)
	t.Cleanup(func() { close(release) }) // before ps.Close, which waits for the held answers

	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestKilledRegistrationRegistersOnce$")
	cmd.Env = append(os.Environ(), envBeginState+"="+dir, envBeginBilling+"="+ps.URL, envBeginTenant+"="+ten.ID)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-registered:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the child registered no cluster in a minute")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	env, _, err := begin(ctx, t, dir, admin, billingURL, ten.ID)
	if err != nil {
		t.Fatalf("create again after the killed one: %v", err)
	}
	page, err := admin.Audit(ctx, ten.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range page.Entries {
		if e.Action == "cluster.registered" {
			ids = append(ids, e.EntityID)
		}
	}
	m := env.Rec.Spec.Managed
	if len(ids) != 1 || m == nil || ids[0] != m.ClusterID {
		t.Fatalf("billing registered clusters %v; the record names %+v: want one cluster, the record's", ids, m)
	}
	who, err := testClient(t, billingURL, env.Sec.EnrollmentToken).WhoAmI(ctx)
	if err != nil || who.Kind != "cluster" || who.ClusterID != m.ClusterID {
		t.Fatalf("the kept enrollment token is %+v, %v; want cluster %s", who, err, m.ClusterID)
	}
}

// TestRefusedRegistrationLeavesNoRecord: a create billing refuses (here:
// a tenant billing does not know) registered nothing, so it leaves no
// record behind — the next create under the name starts afresh instead
// of resuming a registration that never was, and a cluster list does not
// show it.
func TestRefusedRegistrationLeavesNoRecord(t *testing.T) {
	svc := servicetest.Start(t, testBillingKey, nil)
	billingURL := "http://" + svc.HTTPAddr()
	admin := testClient(t, billingURL, testBillingKey)
	ctx := context.Background()
	dir := t.TempDir()
	store := Store{Dir: dir}
	for i := range 2 {
		_, resumed, err := begin(ctx, t, dir, admin, billingURL, "tn_nobody")
		if err == nil || !refused(err) {
			t.Fatalf("create %d for an unknown tenant: %v; want billing's refusal", i+1, err)
		}
		if resumed {
			t.Fatalf("create %d resumed an earlier one", i+1)
		}
		if _, _, lerr := store.Load("shop"); !errors.Is(lerr, ErrNoCluster) {
			t.Fatalf("after the refused create %d the store holds shop (%v); want nothing", i+1, lerr)
		}
	}
	names, err := store.Names()
	if err != nil || len(names) != 0 {
		t.Fatalf("store names %v, %v; want none", names, err)
	}
	ten, err := admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "Acme", Name: "acme", Tier: "starter", Email: "ap@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	env, resumed, err := begin(ctx, t, dir, admin, billingURL, ten.ID)
	if err != nil || resumed || env.Rec.RegistrationPending {
		t.Fatalf("create for a known tenant: resumed %v, pending %v, %v", resumed, env != nil && env.Rec.RegistrationPending, err)
	}
}
