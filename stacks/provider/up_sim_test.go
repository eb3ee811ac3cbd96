package provider_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aerolithdb/aerolith/agent/client"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/provisioner"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim/cloudsimtest"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
	"github.com/aerolithdb/aerolith/provisioner/deployment/deploymenttest"
	"github.com/aerolithdb/aerolith/stacks/sdk/go/aerolith"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// simCloud is one cloud of the simulator as the bridged provider is
// configured for it, as provider/'s TestAccCluster*Simulator configure the
// Terraform provider.
type simCloud struct {
	cloud string
	// provider sets the cloud's block of the provider's configuration.
	provider func(args *aerolith.ProviderArgs, simURL string)
	// region is the cluster's (nil: the provider's default).
	region pulumi.StringPtrInput
	// instanceID is the shape of the cloud's instance ids.
	instanceID *regexp.Regexp
	// resourceGroup (azure), when set, is an existing group made in the
	// simulator first, which the cluster is put into and destroy leaves.
	resourceGroup string
}

var (
	awsSim = simCloud{
		cloud: "aws",
		provider: func(args *aerolith.ProviderArgs, simURL string) {
			args.Aws = aerolith.ProviderAwsArgs{Region: pulumi.StringPtr("eu-west-1"), Endpoint: pulumi.StringPtr(simURL)}
		},
		instanceID: regexp.MustCompile(`^i-[0-9a-f]+$`),
	}
	gcpSim = simCloud{
		cloud: "gcp",
		provider: func(args *aerolith.ProviderArgs, simURL string) {
			args.Gcp = aerolith.ProviderGcpArgs{Project: pulumi.StringPtr(cloudsimtest.GCPProject), Zone: pulumi.StringPtr("europe-west1-c"), Endpoint: pulumi.StringPtr(simURL)}
		},
		region:     pulumi.StringPtr("europe-west1"),
		instanceID: regexp.MustCompile(`^pulumi-gcp-[a-z0-9-]+$`),
	}
	azureSim = simCloud{
		cloud: "azure",
		provider: func(args *aerolith.ProviderArgs, simURL string) {
			args.Azure = aerolith.ProviderAzureArgs{SubscriptionId: pulumi.StringPtr(cloudsimtest.AzureSubscription), Location: pulumi.StringPtr("westeurope"), Endpoint: pulumi.StringPtr(simURL)}
		},
		// An MSP's own group: the VMs must be in it.
		instanceID:    regexp.MustCompile(`(?i)^/subscriptions/` + cloudsimtest.AzureSubscription + `/resourceGroups/msp-pulumi/providers/Microsoft\.Compute/virtualMachines/[^/]+$`),
		resourceGroup: "msp-pulumi",
	}
)

// TestPulumiUpRefreshDestroyAWSSimulator: testPulumiSimulator on the
// simulated EC2.
func TestPulumiUpRefreshDestroyAWSSimulator(t *testing.T) { testPulumiSimulator(t, awsSim) }

// TestPulumiUpRefreshDestroyGCPSimulator: testPulumiSimulator on the
// simulated Compute Engine.
func TestPulumiUpRefreshDestroyGCPSimulator(t *testing.T) { testPulumiSimulator(t, gcpSim) }

// TestPulumiUpRefreshDestroyAzureSimulator: testPulumiSimulator on the
// simulated Azure Resource Manager.
func TestPulumiUpRefreshDestroyAzureSimulator(t *testing.T) { testPulumiSimulator(t, azureSim) }

// testPulumiSimulator: a tenant, a managed 3-node cluster on a simulated
// cloud (its official SDK against provisioner/cloudsim, each instance
// booted from its user data into a real agent that enrolls with billing),
// a readwrite key and a collection through the bridged provider. The
// nodes form a cluster that takes a write with the key through the
// cluster's endpoints output; the keys stay secret in the outputs and
// encrypted in the state; refresh and preview find no changes; a node
// terminated in the simulator shows as a diff that up repairs; destroy
// leaves no instance and deregisters the cluster from billing (its
// enrollment token refused).
func testPulumiSimulator(t *testing.T, sc simCloud) {
	cli := pulumiCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	bill, err := proctest.StartBilling(ctx, proctest.BillingConfig{Binary: binary, Dir: t.TempDir(), TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bill.Stop) // after the stack's cleanup, which needs billing
	admin, err := bill.Admin()
	if err != nil {
		t.Fatal(err)
	}
	sim := cloudsimtest.Start(t, binary)
	// The plugin (through the CLI) and this test's own driver find the
	// credentials in the environment, as the cloud's SDK does.
	cloudsimtest.SetCredentials(t, sc.cloud, sim.URL)
	var resourceGroup pulumi.StringPtrInput
	if sc.resourceGroup != "" {
		cloudsimtest.AzureResourceGroup(t, sim.URL, sc.resourceGroup, "westeurope")
		resourceGroup = pulumi.StringPtr(sc.resourceGroup)
	}
	stateDir := t.TempDir()
	clusterName := "pulumi-" + sc.cloud
	project := "aerolith-acc-" + sc.cloud

	program := func(ctx *pulumi.Context) error {
		args := &aerolith.ProviderArgs{
			BillingUrl: pulumi.StringPtr(bill.URL()),
			BillingKey: pulumi.StringPtr(bill.AdminKey()),
			CaFile:     pulumi.StringPtr(bill.CAFile()),
			StateDir:   pulumi.StringPtr(stateDir),
		}
		sc.provider(args, sim.URL)
		prov, err := aerolith.NewProvider(ctx, "aerolith", args)
		if err != nil {
			return err
		}
		opt := pulumi.Provider(prov)
		tenant, err := aerolith.NewTenant(ctx, "acme", &aerolith.TenantArgs{
			Organization:     pulumi.String("Acme"),
			Name:             pulumi.String("acme"),
			Tier:             pulumi.String("starter"),
			Email:            pulumi.String("ops@acme.example"),
			DeleteProtection: pulumi.BoolPtr(false),
		}, opt)
		if err != nil {
			return err
		}
		cluster, err := aerolith.NewCluster(ctx, "c", &aerolith.ClusterArgs{
			Name:             pulumi.String(clusterName),
			Cloud:            pulumi.String(sc.cloud),
			Region:           sc.region,
			ResourceGroup:    resourceGroup,
			NodeCount:        pulumi.IntPtr(3),
			AgentUrl:         pulumi.String(sim.AgentURL),
			AgentSha256:      pulumi.String(sim.AgentSHA256),
			AllowedCidrs:     pulumi.StringArray{pulumi.String("127.0.0.0/8")},
			TenantIds:        pulumi.StringArray{tenant.ID().ToStringOutput()},
			DeleteProtection: pulumi.BoolPtr(false),
		}, opt)
		if err != nil {
			return err
		}
		key, err := aerolith.NewApiKey(ctx, "app", &aerolith.ApiKeyArgs{
			Cluster: cluster.ID().ToStringOutput(),
			Tenant:  tenant.ID().ToStringOutput(),
			Role:    pulumi.String("readwrite"),
			Name:    pulumi.String("app"),
		}, opt)
		if err != nil {
			return err
		}
		if _, err := aerolith.NewCollection(ctx, "orders", &aerolith.CollectionArgs{
			Cluster:          cluster.ID().ToStringOutput(),
			Tenant:           tenant.ID().ToStringPtrOutput(),
			Name:             pulumi.String("orders"),
			DeleteProtection: pulumi.BoolPtr(false),
		}, opt); err != nil {
			return err
		}
		ctx.Export("tenantId", tenant.ID())
		ctx.Export("endpoints", cluster.Endpoints)
		ctx.Export("caCertificate", cluster.CaCertificate)
		ctx.Export("billingClusterId", cluster.BillingClusterId)
		ctx.Export("nodes", cluster.Nodes)
		ctx.Export("keySecret", key.Secret)
		ctx.Export("adminKey", cluster.AdminKey)
		return nil
	}

	stack, backend := newStack(t, ctx, cli, project, "sim", program)
	up, err := stack.Up(ctx, optup.ProgressStreams(testWriter{t}))
	if err != nil {
		t.Fatalf("pulumi up: %v", err)
	}
	if got := (*up.Summary.ResourceChanges)["create"]; got != 6 { // stack, provider, tenant, cluster, key, collection
		t.Errorf("up created %d resources, want 6: %v", got, *up.Summary.ResourceChanges)
	}
	secretOutputs(t, up.Outputs, "keySecret", "adminKey")
	checkNodes(t, sc, clusterName, up.Outputs["nodes"].Value, 3)
	if live := sim.Live(); len(live) != 3 {
		t.Errorf("the simulator runs %d instances, want 3: %+v", len(live), live)
	}
	clusterID, _ := up.Outputs["billingClusterId"].Value.(string)
	if enr, err := admin.GetCluster(ctx, clusterID); err != nil || len(enr.Nodes) != 3 {
		t.Errorf("billing's cluster %q: %d nodes registered, %v; want 3", clusterID, len(enr.Nodes), err)
	}
	app := appClient(t, up.Outputs)
	putAndGet(t, ctx, app, "o-1")
	formed(t, ctx, app, 3)

	// The secrets: nowhere in plain text in the backend's files, and the
	// checkpoint holds them as Pulumi secrets (ciphertext).
	_, secrets, err := deployment.Store{Dir: stateDir}.Load(clusterName)
	if err != nil {
		t.Fatal(err)
	}
	checkState(t, backend, project, "sim", 4, map[string]string{ // the key's secret, the admin key, both outputs
		"api key secret":   up.Outputs["keySecret"].Value.(string),
		"admin key":        up.Outputs["adminKey"].Value.(string),
		"enrollment token": secrets.EnrollmentToken,
		"billing key":      bill.AdminKey(),
	})

	if _, err := stack.Refresh(ctx, optrefresh.ExpectNoChanges(), optrefresh.ProgressStreams(testWriter{t})); err != nil {
		t.Fatalf("pulumi refresh (expect no changes): %v", err)
	}
	if _, err := stack.Preview(ctx, optpreview.ExpectNoChanges()); err != nil {
		t.Fatalf("pulumi preview (expect no changes): %v", err)
	}

	// Node 3's VM terminated in the simulator, behind Pulumi's back:
	// refresh sees it, preview proposes the repair, up makes it.
	deploymenttest.Terminate(t, deploymenttest.Open(t, stateDir, clusterName, nil), provisioner.NodeID(clusterName, 3))
	ref, err := stack.Refresh(ctx, optrefresh.ProgressStreams(testWriter{t}))
	if err != nil {
		t.Fatalf("pulumi refresh after a node was terminated: %v", err)
	}
	if got := (*ref.Summary.ResourceChanges)["update"]; got != 1 {
		t.Errorf("refresh after a node was terminated: %v, want the cluster updated", *ref.Summary.ResourceChanges)
	}
	pre, err := stack.Preview(ctx)
	if err != nil {
		t.Fatalf("pulumi preview after a node was terminated: %v", err)
	}
	if got := pre.ChangeSummary["update"]; got != 1 {
		t.Errorf("preview after a node was terminated: %v, want the cluster updated", pre.ChangeSummary)
	}
	repair, err := stack.Up(ctx, optup.ProgressStreams(testWriter{t}))
	if err != nil {
		t.Fatalf("pulumi up (repair): %v", err)
	}
	if got := (*repair.Summary.ResourceChanges)["update"]; got != 1 {
		t.Errorf("up (repair): %v, want the cluster updated", *repair.Summary.ResourceChanges)
	}
	checkNodes(t, sc, clusterName, repair.Outputs["nodes"].Value, 3)
	if live := sim.Live(); len(live) != 3 {
		t.Errorf("the simulator runs %d instances after the repair, want 3: %+v", len(live), live)
	}
	app = appClient(t, repair.Outputs)
	putAndGet(t, ctx, app, "o-2")
	formed(t, ctx, app, 3)
	if _, err := stack.Refresh(ctx, optrefresh.ExpectNoChanges()); err != nil {
		t.Fatalf("pulumi refresh after the repair (expect no changes): %v", err)
	}

	if _, err := stack.Destroy(ctx, optdestroy.ProgressStreams(testWriter{t})); err != nil {
		t.Fatalf("pulumi destroy: %v", err)
	}
	if live := sim.Live(); len(live) != 0 {
		t.Errorf("the simulator still runs %d instances after destroy: %+v", len(live), live)
	}
	if sc.resourceGroup != "" {
		// The given group stays (its owner's), emptied of the cluster.
		var left []string
		for _, r := range sim.Server.ARMResources() {
			left = append(left, r.Type+"/"+r.Name)
		}
		if want := "Microsoft.Resources/resourceGroups/" + sc.resourceGroup; len(left) != 1 || left[0] != want {
			t.Errorf("after destroy the simulator holds %v, want only %s", left, want)
		}
	}
	// Deregistered: billing keeps the record, the enrollment token stops
	// working.
	enrolled, err := billingclient.New(billingclient.Config{URL: bill.URL(), Key: secrets.EnrollmentToken, HTTPClient: bill.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enrolled.WhoAmI(ctx); !billingclient.IsUnauthenticated(err) {
		t.Errorf("the enrollment token of %s after destroy: %v, want 401", clusterID, err)
	}
	if _, _, err := (deployment.Store{Dir: stateDir}).Load(clusterName); err == nil {
		t.Error("the cluster's record is still in the state dir after destroy")
	}
}

// checkNodes: the nodes output lists want running instances of the
// cloud, in node order.
func checkNodes(t *testing.T, sc simCloud, cluster string, v any, want int) {
	t.Helper()
	nodes, _ := v.([]any)
	if len(nodes) != want {
		t.Fatalf("nodes = %v, want %d", v, want)
	}
	for i, n := range nodes {
		m, _ := n.(map[string]any)
		id, _ := m["instanceId"].(string)
		if m["state"] != "running" || !sc.instanceID.MatchString(id) || m["nodeId"] != provisioner.NodeID(cluster, i+1) {
			t.Errorf("node %d = %v, want %s running on an instance of %s", i, m, provisioner.NodeID(cluster, i+1), sc.cloud)
		}
	}
}

// appClient reaches the cluster as an application would from the stack's
// outputs alone: the endpoints, the cluster's CA certificate and the key.
func appClient(t *testing.T, outs auto.OutputMap) *client.Client {
	t.Helper()
	var urls []string
	eps, _ := outs["endpoints"].Value.([]any)
	for _, e := range eps {
		urls = append(urls, e.(string))
	}
	if len(urls) == 0 || !strings.HasPrefix(urls[0], "https://") {
		t.Fatalf("endpoints = %v, want https URLs", outs["endpoints"].Value)
	}
	roots := x509.NewCertPool()
	ca, _ := outs["caCertificate"].Value.(string)
	if !roots.AppendCertsFromPEM([]byte(ca)) {
		t.Fatalf("caCertificate output is no PEM certificate: %q", ca)
	}
	key, _ := outs["keySecret"].Value.(string)
	c, err := client.New(client.Config{URL: strings.Join(urls, ","), Key: key, TLS: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// putAndGet writes a document into the stack's collection and reads it back.
func putAndGet(t *testing.T, ctx context.Context, c *client.Client, id string) {
	t.Helper()
	if _, err := c.Put(ctx, "orders", id, map[string]any{"customer": "c-" + id}); err != nil {
		t.Fatalf("put orders/%s with the stack's key: %v", id, err)
	}
	doc, err := c.Get(ctx, "orders", id)
	if err != nil || !strings.Contains(string(doc.Data), `"c-`+id+`"`) {
		t.Fatalf("get orders/%s: %v, %v", id, doc, err)
	}
}

// formed: the tenant's view of the cluster lists n endpoints, one the
// leader.
func formed(t *testing.T, ctx context.Context, c *client.Client, n int) {
	t.Helper()
	st, err := c.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leaders := 0
	for _, e := range st.Endpoints {
		if e.Leader {
			leaders++
		}
	}
	if len(st.Endpoints) != n || leaders != 1 {
		t.Errorf("the cluster as the key sees it: %+v, want %d endpoints and one leader", st.Endpoints, n)
	}
}
