package cloud

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aerolithdb/aerolith/agent/client"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/testwait"
	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/azure"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

const azureSubscription = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"

// azureIdentity points azidentity's managed identity (the App Service
// shape of IDENTITY_ENDPOINT and IDENTITY_HEADER) at the simulator's token
// endpoint, so the driver's DefaultAzureCredential gets real bearer
// tokens from it; the other sources of the chain are switched off.
func azureIdentity(t *testing.T, simURL string) []string {
	t.Helper()
	env := map[string]string{"IDENTITY_ENDPOINT": simURL + cloudsim.MSITokenPath, "IDENTITY_HEADER": "sim-identity-header", "AZURE_SUBSCRIPTION_ID": azureSubscription}
	for k, v := range env {
		t.Setenv(k, v)
	}
	for _, k := range []string{"AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "MSI_ENDPOINT"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func (e *env) azureDriver(t *testing.T) *azure.Driver {
	t.Helper()
	azureIdentity(t, e.simURL)
	d, err := azure.New(azure.Config{Location: "westeurope", Endpoint: e.simURL, PollFrequency: 50 * time.Millisecond, RetryDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// azureSpec is the managed cluster of e.managed on Azure.
func azureSpec(of func(n int) *provisioner.ClusterSpec) func(n int) *provisioner.ClusterSpec {
	return func(n int) *provisioner.ClusterSpec {
		s := of(n)
		s.Cloud, s.Region, s.InstanceType = provisioner.Azure, "westeurope", "Standard_D2s_v5"
		return s
	}
}

func armLeft(sim *cloudsim.Server) []string {
	var out []string
	for _, r := range sim.ARMResources() {
		out = append(out, r.Type+"/"+r.Name)
	}
	return out
}

// TestAzureClusterThroughSimulator is TestAWSClusterThroughSimulator on
// Azure: a managed 3-node cluster created through the Azure SDK (ARM in
// the simulator, which boots every VM from its customData) forms, enrolls
// and serves a tenant's writes, metered into billing; it scales to 5 and
// back to 3 under a write load with every acknowledged write present;
// destroy leaves no resource and no agent; every request carried a bearer
// token.
func TestAzureClusterThroughSimulator(t *testing.T) {
	proctest.SkipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	e := newEnv(t, ctx)
	tenant, enr, awsSpec := e.managed(t, ctx, "shop")
	spec := azureSpec(awsSpec)
	adminKey := "cluster-admin-key-0123456789abcdef"
	members := &lateMembers{}
	start := time.Now()
	p, err := provisioner.New(provisioner.Config{
		Driver: e.azureDriver(t), UserData: provisioner.UserData(provisioner.Boot{AdminKey: adminKey}),
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

	var key string
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
	testwait.For(t, time.Minute, fmt.Sprintf("billing to count at least %d writes", w.acked()), func() error {
		s, err := e.admin.Usage(ctx, tenant, billingclient.UsageQuery{From: start.Add(-time.Hour), To: time.Now().Add(time.Hour)})
		if err != nil {
			return err
		}
		if s.Total.Writes < uint64(w.acked()) {
			return fmt.Errorf("billed %d writes", s.Total.Writes)
		}
		return nil
	})

	if err := p.Destroy(ctx, spec(3)); err != nil {
		t.Fatal(err)
	}
	if got, left := liveNodes(e.sim), armLeft(e.sim); len(got) != 0 || len(left) != 0 {
		t.Fatalf("after destroy: live %v, resources %v", got, left)
	}
	if running := e.booter.Running(); len(running) != 0 {
		t.Fatalf("agents still running after destroy: %v", running)
	}
	checkAzureRequests(t, e.sim)
}

// checkAzureRequests: every ARM request carried a bearer token the
// simulator's identity endpoint issued (the simulator checks signature,
// expiry and audience), and no NIC was deleted before its VM.
func checkAzureRequests(t *testing.T, sim *cloudsim.Server) {
	t.Helper()
	deleted := map[string]int{}
	n := 0
	for i, r := range sim.Requests() {
		if r.Cloud != "azure" {
			continue
		}
		n++
		if !r.AuthOK || (r.Action != "ManagedIdentity/token" && r.Auth != "Bearer") {
			t.Fatalf("request %s %s: auth %q ok=%v", r.Method, r.Path, r.Auth, r.AuthOK)
		}
		if r.Method == "DELETE" && r.Status < 300 {
			deleted[strings.ToLower(r.Path[strings.LastIndex(r.Path, "/")+1:])] = i
		}
	}
	for name, i := range deleted {
		if vm, ok := strings.CutSuffix(name, "-nic"); ok {
			if j, ok := deleted[vm]; !ok || j > i {
				t.Fatalf("NIC %s deleted before its VM", name)
			}
		}
	}
	if n == 0 {
		t.Fatal("no ARM request recorded")
	}
}

// TestAzureClusterUnderFaults creates and destroys a 3-node cluster on
// Azure with every fault on at once: the cluster forms with exactly one
// VM per node, and destroy leaves nothing (failed VMs included).
func TestAzureClusterUnderFaults(t *testing.T) {
	proctest.SkipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e := newEnv(t, ctx)
	_, enr, awsSpec := e.managed(t, ctx, "faults")
	spec := azureSpec(awsSpec)(3)
	e.sim.SetFaults(cloudsim.Faults{EventualConsistency: 2, Throttle: 25, CommitThen500: 3, PageSize: 1, FailLaunch: 3})
	adminKey := "cluster-admin-key-0123456789abcdef"
	p, err := provisioner.New(provisioner.Config{Driver: e.azureDriver(t), UserData: provisioner.UserData(provisioner.Boot{AdminKey: adminKey}), PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Apply(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := liveNodes(e.sim); !slices.Equal(got, []string{"acme-faults-n1", "acme-faults-n2", "acme-faults-n3"}) {
		t.Fatalf("live VMs %v: a duplicate or a missing node", got)
	}
	failed := 0
	for _, in := range e.sim.Instances() {
		if strings.HasPrefix(in.StateReason, "AllocationFailed") {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no VM failed to provision: the fault was not exercised")
	}
	waitFormed(t, ctx, clusterClient(t, ctx, e, enr.ClusterID, st, adminKey), 3)
	if err := p.Destroy(ctx, spec); err != nil {
		t.Fatal(err)
	}
	e.sim.SetFaults(cloudsim.Faults{})
	if got, left := liveNodes(e.sim), armLeft(e.sim); len(got) != 0 || len(left) != 0 || len(e.booter.Running()) != 0 {
		t.Fatalf("after destroy: live %v, resources %v, agents %v", got, left, e.booter.Running())
	}
}

// TestAzureUnmanagedClusterDiscoversByTags: an unmanaged cluster (no
// billing, plain HTTP chosen explicitly) whose nodes find each other by
// the cluster's tag through ARM (--discover provider=azure, the VMs'
// managed identity being the simulator's token endpoint) forms.
func TestAzureUnmanagedClusterDiscoversByTags(t *testing.T) {
	proctest.SkipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	e := newEnv(t, ctx)
	adminKey := "cluster-admin-key-0123456789abcdef"
	spec := &provisioner.ClusterSpec{Name: "plain", Cloud: provisioner.Azure, Region: "westeurope", Nodes: 3, InstanceType: "Standard_D2s_v5", DiskGB: 30,
		Agent: e.artifact, AllowedCIDRs: []string{"127.0.0.0/8"}}
	drv := e.azureDriver(t)
	discover := fmt.Sprintf("provider=azure subscription_id=%s resource_group=aerolith-plain tag_key=%s tag_value=plain endpoint=%s", azureSubscription, provisioner.TagCluster, e.simURL)
	p, err := provisioner.New(provisioner.Config{Driver: drv, UserData: provisioner.UserData(provisioner.Boot{AdminKey: adminKey, Discover: discover, InsecureHTTP: true}), PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.Apply(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, n := range st.Nodes {
		urls = append(urls, "http://"+n.PrivateIP+":7070")
	}
	c, err := client.New(client.Config{URL: strings.Join(urls, ","), Key: adminKey, Timeout: 10 * time.Second, ConnectTimeout: time.Second, HeaderTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	waitFormed(t, ctx, c, 3)
	logs, _ := filepath.Glob(filepath.Join(e.booter.Dir, "vm-*", "agent.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		if !strings.Contains(string(b), "discovered the cluster's nodes") || !strings.Contains(string(b), "azure subscription="+azureSubscription) {
			t.Fatalf("%s: the node did not discover its peers through azure:\n%s", l, tail(string(b), 20))
		}
	}
	if len(logs) != 3 {
		t.Fatalf("%d agent logs, want 3", len(logs))
	}
	if err := p.Destroy(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if left := armLeft(e.sim); len(left) != 0 || len(e.booter.Running()) != 0 {
		t.Fatalf("after destroy: resources %v, agents %v", left, e.booter.Running())
	}
}
