package cloud

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/aerolithdb/aerolith/agent/client"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/pki"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/provisioner"
	awsdrv "github.com/aerolithdb/aerolith/provisioner/aws"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim/cloudsimtest"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// env is one billing service, an artifact server holding the agent binary,
// and the cloud simulator booting what it is asked to launch.
type env struct {
	bill     *proctest.Billing
	admin    *billingclient.Client
	sim      *cloudsim.Server
	simURL   string
	booter   *cloudsim.AgentBooter
	artifact provisioner.Artifact
}

func newEnv(t *testing.T, ctx context.Context) *env {
	t.Helper()
	bill, err := proctest.StartBilling(ctx, proctest.BillingConfig{Binary: binary, Dir: t.TempDir(), TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("billing log tail:\n%s", bill.LogTail(30))
		}
		bill.Stop()
	})
	admin, err := bill.Admin()
	if err != nil {
		t.Fatal(err)
	}
	sim := cloudsimtest.Start(t, binary)
	return &env{bill: bill, admin: admin, sim: sim.Server, simURL: sim.URL, booter: sim.Booter,
		artifact: provisioner.Artifact{URL: sim.AgentURL, SHA256: sim.AgentSHA256}}
}

// managed creates a tenant named name, registers a cluster for it in
// billing and returns the spec of that managed cluster for n nodes.
func (e *env) managed(t *testing.T, ctx context.Context, name string) (tenant string, enr billingclient.Enrollment, spec func(n int) *provisioner.ClusterSpec) {
	t.Helper()
	ten, err := e.admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "Acme", Name: name, Tier: "starter", Email: "ops@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	enr, err = e.admin.RegisterCluster(ctx, "", []string{ten.ID})
	if err != nil {
		t.Fatal(err)
	}
	billingCA, err := os.ReadFile(e.bill.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	return ten.ID, enr, func(n int) *provisioner.ClusterSpec {
		return &provisioner.ClusterSpec{
			Name: "acme-" + name, Cloud: provisioner.AWS, Region: "eu-west-1", Nodes: n, InstanceType: "t3.medium", DiskGB: 20,
			Agent:        e.artifact,
			Managed:      &provisioner.Managed{BillingURL: e.bill.URL(), ClusterID: enr.ClusterID, EnrollmentToken: enr.EnrollmentToken, BillingCA: string(billingCA)},
			AllowedCIDRs: []string{"127.0.0.0/8"},
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (e *env) driver(t *testing.T) *awsdrv.Driver {
	t.Helper()
	d, err := awsdrv.New(context.Background(), awsdrv.Config{
		Region: "eu-west-1", Endpoint: e.simURL, MaxBackoff: 50 * time.Millisecond,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// clusterClient reaches the running nodes' data API over HTTPS verified
// with the cluster's CA (from billing), with key.
func clusterClient(t *testing.T, ctx context.Context, e *env, clusterID string, st *provisioner.Status, key string) *client.Client {
	t.Helper()
	caPEM, err := e.admin.ClusterCA(ctx, clusterID)
	if err != nil {
		t.Fatal(err)
	}
	roots, _, err := pki.ParseCertPool(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, n := range st.Nodes {
		if n.State == provisioner.Running {
			urls = append(urls, "https://"+n.PrivateIP+":7070")
		}
	}
	c, err := client.New(client.Config{URL: strings.Join(urls, ","), Key: key, TLS: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		Timeout: 10 * time.Second, ConnectTimeout: time.Second, HeaderTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFormed waits until a node reports n voters and a leader.
func waitFormed(t *testing.T, ctx context.Context, c *client.Client, n int) {
	t.Helper()
	testwait.For(t, 2*time.Minute, fmt.Sprintf("a cluster of %d voters with a leader", n), func() error {
		st, err := c.Cluster(ctx)
		if err != nil {
			return err
		}
		voters := 0
		for _, m := range st.Members {
			if m.Voter {
				voters++
			}
		}
		if voters != n || st.LeaderID == "" {
			return fmt.Errorf("%d voters, leader %q: %+v", voters, st.LeaderID, st.Members)
		}
		return nil
	})
}

// TestAWSClusterThroughSimulator creates a managed 3-node cluster through
// the EC2 driver (aws-sdk-go-v2 against the simulator, which boots every
// instance from its cloud-init user data): the nodes get certificates from
// billing, find each other in billing's registry, form a cluster over
// mutual TLS, serve a tenant's writes and meter them into billing. It
// scales to 5 and back to 3 under a write load with every acknowledged
// write present, then destroys everything.
func TestAWSClusterThroughSimulator(t *testing.T) {
	proctest.SkipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	e := newEnv(t, ctx)
	tenant, enr, spec := e.managed(t, ctx, "shop")
	adminKey := "cluster-admin-key-0123456789abcdef"
	members := &lateMembers{}
	start := time.Now()
	p, err := provisioner.New(provisioner.Config{
		Driver: e.driver(t), UserData: provisioner.UserData(provisioner.Boot{AdminKey: adminKey}),
		Members: members, PollInterval: 100 * time.Millisecond,
		OnEvent: func(ev provisioner.Event) { t.Logf("%s %s %s", ev.Action, ev.NodeID, ev.Message) },
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Apply(ctx, spec(3))
	if err != nil {
		t.Fatal(err)
	}
	adminC := clusterClient(t, ctx, e, enr.ClusterID, st, adminKey)
	members.set(adminC)
	waitFormed(t, ctx, adminC, 3)
	t.Logf("create → formed: %s", time.Since(start).Round(10*time.Millisecond))

	// A tenant key, and writes metered into billing.
	var key string
	// The nodes fetch their tenants' policies from billing on their own.
	testwait.For(t, time.Minute, "a tenant key", func() error {
		k, err := adminC.CreateKey(ctx, tenant, "readwrite", "ci")
		if err == nil {
			key = k.Key
		}
		return err
	})
	tc := clusterClient(t, ctx, e, enr.ClusterID, st, key)
	w := &writer{c: tc}
	for i := 0; i < 20; i++ {
		w.put(ctx)
	}
	if w.acked() != 20 {
		t.Fatalf("%d of 20 writes acknowledged: %v", w.acked(), w.lastErr)
	}

	// Scale to 5 and back to 3 under a write load.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				w.put(ctx)
			}
		}
	}()
	st5, err := p.Apply(ctx, spec(5))
	if err != nil {
		t.Fatal(err)
	}
	wide := clusterClient(t, ctx, e, enr.ClusterID, st5, adminKey)
	members.set(wide)
	waitFormed(t, ctx, wide, 5)
	st3, err := p.Apply(ctx, spec(3))
	if err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	narrow := clusterClient(t, ctx, e, enr.ClusterID, st3, adminKey)
	waitFormed(t, ctx, narrow, 3)
	if got := liveNodes(e.sim); !slices.Equal(got, []string{"acme-shop-n1", "acme-shop-n2", "acme-shop-n3"}) {
		t.Fatalf("live after scaling back: %v", got)
	}
	reader := clusterClient(t, ctx, e, enr.ClusterID, st3, key)
	for _, id := range w.ids() {
		if _, err := reader.Get(ctx, "orders", id); err != nil {
			t.Fatalf("acknowledged write %s lost after 3 → 5 → 3: %v", id, err)
		}
	}
	t.Logf("%d acknowledged writes, all present after scaling 3 → 5 → 3", w.acked())

	// Usage reached billing: at least the acknowledged writes (metering
	// windows close on their own).
	testwait.For(t, time.Minute, fmt.Sprintf("billing to count at least %d writes", w.acked()), func() error {
		s, err := e.admin.Usage(ctx, tenant, billingclient.UsageQuery{From: start.Add(-time.Hour), To: time.Now().Add(time.Hour)})
		if err != nil {
			return err
		}
		if s.Total.Writes < uint64(w.acked()) {
			return fmt.Errorf("billed %d writes", s.Total.Writes)
		}
		t.Logf("billing counted %d writes for %d acknowledged", s.Total.Writes, w.acked())
		return nil
	})

	// A revoked key is refused at once.
	k2, err := adminC.CreateKey(ctx, tenant, "read", "short-lived")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adminC.RevokeKey(ctx, k2.ID); err != nil {
		t.Fatal(err)
	}
	revoked := clusterClient(t, ctx, e, enr.ClusterID, st3, k2.Key)
	if _, err := revoked.Get(ctx, "orders", w.ids()[0]); !client.IsUnauthenticated(err) {
		t.Fatalf("read with a revoked key = %v, want 401", err)
	}
	keys, err := adminC.Keys(ctx, tenant)
	if err != nil || len(keys) != 2 {
		t.Fatalf("Keys = %+v, %v; want the two keys made", keys, err)
	}

	if err := p.Destroy(ctx, spec(3)); err != nil {
		t.Fatal(err)
	}
	if got := liveNodes(e.sim); len(got) != 0 || len(e.sim.SecurityGroups()) != 0 {
		t.Fatalf("after destroy: live %v, groups %d", got, len(e.sim.SecurityGroups()))
	}
	if running := e.booter.Running(); len(running) != 0 {
		t.Fatalf("agents still running after destroy: %v", running)
	}
}

// TestAWSClusterUnderFaults creates and destroys a 3-node cluster with
// every fault of the simulator switched on at once: eventual consistency,
// throttling, commit-then-500, one-item pages and failed launches. The
// cluster still forms with exactly one instance per node.
func TestAWSClusterUnderFaults(t *testing.T) {
	proctest.SkipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e := newEnv(t, ctx)
	_, enr, specOf := e.managed(t, ctx, "faults")
	spec := specOf(3)
	e.sim.SetFaults(cloudsim.Faults{EventualConsistency: 2, Throttle: 4, CommitThen500: 3, PageSize: 1, FailLaunch: 3})
	adminKey := "cluster-admin-key-0123456789abcdef"
	p, err := provisioner.New(provisioner.Config{Driver: e.driver(t), UserData: provisioner.UserData(provisioner.Boot{AdminKey: adminKey}), PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Apply(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	e.sim.SetFaults(cloudsim.Faults{})
	if got := liveNodes(e.sim); !slices.Equal(got, []string{"acme-faults-n1", "acme-faults-n2", "acme-faults-n3"}) {
		t.Fatalf("live nodes %v: a duplicate or a missing node", got)
	}
	failed := 0
	for _, in := range e.sim.Instances() {
		if strings.HasPrefix(in.StateReason, "Server.InternalError") {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no launch failed: the fault was not exercised")
	}
	waitFormed(t, ctx, clusterClient(t, ctx, e, enr.ClusterID, st, adminKey), 3)
	if err := p.Destroy(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if got := liveNodes(e.sim); len(got) != 0 || len(e.sim.SecurityGroups()) != 0 || len(e.booter.Running()) != 0 {
		t.Fatalf("after destroy: live %v, groups %d, agents %v", got, len(e.sim.SecurityGroups()), e.booter.Running())
	}
}

// lateMembers is provisioner.Members over a client set once the cluster's
// nodes are known.
type lateMembers struct {
	mu sync.Mutex
	c  *client.Client
}

func (m *lateMembers) set(c *client.Client) { m.mu.Lock(); m.c = c; m.mu.Unlock() }

func (m *lateMembers) Remove(ctx context.Context, node string) error {
	m.mu.Lock()
	c := m.c
	m.mu.Unlock()
	return provisioner.AgentMembers{Client: c}.Remove(ctx, node)
}

// writer puts documents and remembers the acknowledged ones.
type writer struct {
	c       *client.Client
	mu      sync.Mutex
	n       int
	done    []string
	lastErr error
}

func (w *writer) put(ctx context.Context) {
	w.mu.Lock()
	w.n++
	id := fmt.Sprintf("o%05d", w.n)
	w.mu.Unlock()
	_, err := w.c.Put(ctx, "orders", id, map[string]any{"n": id})
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.lastErr = err
		return
	}
	w.done = append(w.done, id)
}

func (w *writer) acked() int { w.mu.Lock(); defer w.mu.Unlock(); return len(w.done) }

func (w *writer) ids() []string { w.mu.Lock(); defer w.mu.Unlock(); return slices.Clone(w.done) }

func liveNodes(sim *cloudsim.Server) []string {
	var out []string
	for _, in := range sim.Instances() {
		if in.State != "terminated" && in.State != "shutting-down" {
			out = append(out, in.Tags[provisioner.TagNode])
		}
	}
	slices.Sort(out)
	return out
}
