package provider_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
	"github.com/aerolithdb/aerolith/stacks/sdk/go/aerolith"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// The lifecycle test drives the bridged provider with the real Pulumi CLI
// that `make test` builds (PULUMI_CLI) through the Automation API: an
// inline Go program needs no language host. The plugin is built from
// this module once per run and found on PATH; nothing is downloaded.

var binary string // the aerolith binary (agents, billing)

var plugin struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := proctest.RunMain(m, &binary)
	if plugin.dir != "" {
		os.RemoveAll(plugin.dir)
	}
	os.Exit(code)
}

// pulumiCLI is the CLI make test built, or a skip naming the target.
func pulumiCLI(t *testing.T) auto.PulumiCommand {
	t.Helper()
	proctest.SkipIfShort(t)
	path := os.Getenv("PULUMI_CLI")
	if path == "" {
		t.Skip("needs the Pulumi CLI in PULUMI_CLI: `make tools/pulumi` builds it into .tools/ (make test-stacks sets it)")
	}
	// The Automation API takes the installation root (…/bin/pulumi).
	root := filepath.Dir(filepath.Dir(path))
	if filepath.Join(root, "bin", "pulumi") != filepath.Clean(path) {
		t.Fatalf("PULUMI_CLI=%s: want a path ending in bin/pulumi", path)
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return cmd
}

// pluginDir builds pulumi-resource-aerolith once and returns its folder.
func pluginDir(t *testing.T) string {
	t.Helper()
	plugin.once.Do(func() {
		if plugin.dir, plugin.err = os.MkdirTemp("", "aerolith-pulumi-plugin-"); plugin.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(plugin.dir, "pulumi-resource-aerolith"), "./cmd/pulumi-resource-aerolith")
		if out, err := cmd.CombinedOutput(); err != nil {
			plugin.err = fmt.Errorf("build pulumi-resource-aerolith: %w\n%s", err, out)
		}
	})
	if plugin.err != nil {
		t.Fatal(plugin.err)
	}
	return plugin.dir
}

// offlineEnv is the CLI's environment: a file backend (the folder is
// returned), a passphrase, a home of its own, no update checks, the plugin
// first on PATH.
func offlineEnv(t *testing.T) (map[string]string, string) {
	t.Helper()
	dir := t.TempDir()
	backend := filepath.Join(dir, "backend")
	if err := os.MkdirAll(backend, 0o700); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"PULUMI_BACKEND_URL":                   "file://" + backend,
		"PULUMI_CONFIG_PASSPHRASE":             "aerolith-test-passphrase",
		"PULUMI_SKIP_UPDATE_CHECK":             "1",
		"PULUMI_HOME":                          filepath.Join(dir, "home"),
		"PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "1",
		"PATH":                                 pluginDir(t) + string(os.PathListSeparator) + os.Getenv("PATH"),
	}, backend
}

// stateFiles is every file the file backend keeps (the stack's
// checkpoint, its backups and history), as stored on disk.
func stateFiles(t *testing.T, backend string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(backend, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		files[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestPulumiUpRefreshDestroyLocal: a tenant, a 3-node local cluster, a
// readwrite key and an index through the bridged provider; refresh
// finds no changes; the key, the cluster's admin key and the enrollment
// token never appear in plain text in the outputs or the state; destroy
// removes all of it (billing forgets the cluster and the tenant).
func TestPulumiUpRefreshDestroyLocal(t *testing.T) {
	cli := pulumiCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	bdir := t.TempDir()
	bill, err := proctest.StartBilling(ctx, proctest.BillingConfig{Binary: binary, Dir: bdir, TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bill.Stop) // after the stack's cleanup, which needs billing
	admin, err := bill.Admin()
	if err != nil {
		t.Fatal(err)
	}
	agent, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(agent)
	stateDir := t.TempDir()
	const clusterName = "pulumi-local"

	program := func(ctx *pulumi.Context) error {
		prov, err := aerolith.NewProvider(ctx, "aerolith", &aerolith.ProviderArgs{
			BillingUrl: pulumi.StringPtr(bill.URL()),
			BillingKey: pulumi.StringPtr(bill.AdminKey()),
			CaFile:     pulumi.StringPtr(bill.CAFile()),
			StateDir:   pulumi.StringPtr(stateDir),
		})
		if err != nil {
			return err
		}
		opt := pulumi.Provider(prov)
		tenant, err := aerolith.NewTenant(ctx, "shop", &aerolith.TenantArgs{
			Organization:     pulumi.String("Shop"),
			Name:             pulumi.String("shop"),
			Tier:             pulumi.String("starter"),
			Email:            pulumi.String("ops@shop.example"),
			DeleteProtection: pulumi.BoolPtr(false),
		}, opt)
		if err != nil {
			return err
		}
		cluster, err := aerolith.NewCluster(ctx, "c", &aerolith.ClusterArgs{
			Name:             pulumi.String(clusterName),
			Cloud:            pulumi.String("local"),
			NodeCount:        pulumi.IntPtr(3),
			AgentUrl:         pulumi.String("file://" + binary),
			AgentSha256:      pulumi.String(hex.EncodeToString(sum[:])),
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
		if _, err := aerolith.NewIndex(ctx, "by-customer", &aerolith.IndexArgs{
			Cluster:    cluster.ID().ToStringOutput(),
			Tenant:     tenant.ID().ToStringOutput(),
			Collection: pulumi.String("orders"),
			Field:      pulumi.String("customer"),
		}, opt); err != nil {
			return err
		}
		ctx.Export("tenantId", tenant.ID())
		ctx.Export("endpoints", cluster.Endpoints)
		ctx.Export("billingClusterId", cluster.BillingClusterId)
		ctx.Export("keySecret", key.Secret)
		ctx.Export("adminKey", cluster.AdminKey)
		return nil
	}

	stack, backend := newStack(t, ctx, cli, "aerolith-acc", "dev", program)
	up, err := stack.Up(ctx, optup.ProgressStreams(testWriter{t}))
	if err != nil {
		t.Fatalf("pulumi up: %v", err)
	}
	if got := (*up.Summary.ResourceChanges)["create"]; got != 6 { // stack, provider, tenant, cluster, key, index
		t.Errorf("up created %d resources, want 6: %v", got, *up.Summary.ResourceChanges)
	}
	secretOutputs(t, up.Outputs, "keySecret", "adminKey")
	eps, _ := up.Outputs["endpoints"].Value.([]any)
	if len(eps) != 3 {
		t.Errorf("endpoints = %v, want 3", up.Outputs["endpoints"].Value)
	}
	tenantID, _ := up.Outputs["tenantId"].Value.(string)
	if _, err := admin.GetTenant(ctx, tenantID); err != nil {
		t.Errorf("billing does not know tenant %q: %v", tenantID, err)
	}

	// No secret in plain text anywhere in the state.
	_, secrets, err := deployment.Store{Dir: stateDir}.Load(clusterName)
	if err != nil {
		t.Fatal(err)
	}
	checkState(t, backend, "aerolith-acc", "dev", 4, map[string]string{ // the key's secret, the admin key, both outputs
		"api key secret":   up.Outputs["keySecret"].Value.(string),
		"admin key":        up.Outputs["adminKey"].Value.(string),
		"enrollment token": secrets.EnrollmentToken,
		"billing key":      bill.AdminKey(),
	})

	if _, err := stack.Refresh(ctx, optrefresh.ExpectNoChanges(), optrefresh.ProgressStreams(testWriter{t})); err != nil {
		t.Fatalf("pulumi refresh (expect no changes): %v", err)
	}
	if _, err := stack.Preview(ctx); err != nil {
		t.Fatalf("pulumi preview after refresh: %v", err)
	}

	if _, err := stack.Destroy(ctx, optdestroy.ProgressStreams(testWriter{t})); err != nil {
		t.Fatalf("pulumi destroy: %v", err)
	}
	if _, _, err := (deployment.Store{Dir: stateDir}).Load(clusterName); err == nil {
		t.Error("the cluster's record is still in the state dir after destroy")
	}
	if ten, err := admin.GetTenant(ctx, tenantID); err == nil && ten.Status != contract.StatusDeleted {
		t.Errorf("tenant %s after destroy: %+v", tenantID, ten)
	}
}

// newStack makes stack of project, running program, with the CLI in the
// offline environment (plus env); it returns the backend's folder. When
// the test fails, whatever the stack still holds is destroyed.
func newStack(t *testing.T, ctx context.Context, cli auto.PulumiCommand, project, stack string, program pulumi.RunFunc) (auto.Stack, string) {
	t.Helper()
	env, backend := offlineEnv(t)
	st, err := auto.UpsertStackInlineSource(ctx, stack, project, program, auto.Pulumi(cli), auto.EnvVars(env))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if _, err := st.Destroy(context.Background()); err != nil {
				t.Logf("cleanup destroy: %v", err)
			}
		}
	})
	return st, backend
}

// secretOutputs: each named output is there, not empty, and a secret.
func secretOutputs(t *testing.T, outs auto.OutputMap, names ...string) {
	t.Helper()
	for _, name := range names {
		out, ok := outs[name]
		if !ok || !out.Secret {
			t.Errorf("output %s: secret=%v present=%v, want a secret", name, out.Secret, ok)
		}
		if s, _ := out.Value.(string); s == "" {
			t.Errorf("output %s is empty", name)
		}
	}
}

// checkState: the checkpoint of stack holds the cluster and at least
// minEncrypted values as Pulumi secrets (ciphertext), and none of the
// plain values is in any file of the backend.
func checkState(t *testing.T, backend, project, stack string, minEncrypted int, plain map[string]string) {
	t.Helper()
	files := stateFiles(t, backend)
	var checkpoint []byte
	for p, b := range files {
		if strings.HasSuffix(p, filepath.Join("stacks", project, stack+".json")) {
			checkpoint = b
		}
	}
	if !json.Valid(checkpoint) || !strings.Contains(string(checkpoint), "aerolith:index/cluster:Cluster") {
		t.Fatalf("no checkpoint with the cluster among the backend's %d files", len(files))
	}
	if n := strings.Count(string(checkpoint), `"ciphertext"`); n < minEncrypted {
		t.Errorf("the checkpoint holds %d encrypted values, want at least %d", n, minEncrypted)
	}
	for what, v := range plain {
		if v == "" {
			t.Errorf("%s is empty: nothing to look for", what)
			continue
		}
		for p, b := range files {
			if strings.Contains(string(b), v) {
				t.Errorf("the %s is in plain text in %s", what, p)
			}
		}
	}
}

// testWriter streams the engine's progress into the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
