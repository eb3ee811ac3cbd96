package provider_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/billing/contract"
	"github.com/aerolithdb/aerolith/provisioner/cloudsim/cloudsimtest"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// The program-directory tests run a checked-in example the way a user
// does, `pulumi up` in its folder: the CLI starts the program's language
// host (bundled next to the CLI by make tools/pulumi), which runs the
// program, which talks to the bridged provider on PATH. Unlike the inline
// program of up_test.go this covers the language host, the SDK as
// published and the example itself.

// repoRoot is the repository's root (this package is stacks/provider).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// languageHost skips unless the CLI in PULUMI_CLI has the named host
// bundled beside it.
func languageHost(t *testing.T, name string) {
	t.Helper()
	host := filepath.Join(filepath.Dir(os.Getenv("PULUMI_CLI")), name)
	if _, err := os.Stat(host); err != nil {
		t.Skipf("needs %s beside the Pulumi CLI: `make tools/pulumi` builds it (%v)", name, err)
	}
}

// copyProgram copies the example's own files (not node_modules, not the
// stack files a run writes) into a fresh folder, so that runs never write
// into the checkout and never see each other's stacks.
func copyProgram(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// programRun is one run of an examples/pulumi program directory against
// a billing service of its own.
type programRun struct {
	dir     string // the program's folder (a copy)
	project string // its Pulumi.yaml name, the config namespace
	cluster string // the cluster's name
	// config is the stack's configuration for billing and the state dir.
	config func(bill *proctest.Billing, stateDir string) auto.ConfigMap
	// afterUp and afterDestroy, when set, check what the cloud holds.
	afterUp      func(outs auto.OutputMap)
	afterDestroy func()
}

// localProgram is a run of a local example (local, local-go): the
// provider's own configuration (aerolith:*) names billing, and the
// cluster's nodes run this machine's aerolith binary.
func localProgram(t *testing.T, dir, project, cluster string) programRun {
	t.Helper()
	agent, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(agent)
	return programRun{dir: dir, project: project, cluster: cluster,
		config: func(bill *proctest.Billing, stateDir string) auto.ConfigMap {
			return auto.ConfigMap{
				"aerolith:billingUrl":     {Value: bill.URL()},
				"aerolith:billingKey":     {Value: bill.AdminKey(), Secret: true},
				"aerolith:caFile":         {Value: bill.CAFile()},
				"aerolith:stateDir":       {Value: stateDir},
				project + ":agentUrl":     {Value: "file://" + binary},
				project + ":agentSha256":  {Value: hex.EncodeToString(sum[:])},
				project + ":clusterName":  {Value: cluster},
				project + ":insecureHttp": {Value: "false"},
			}
		}}
}

// typeScriptProgram is a copy of examples/pulumi/NAME with the
// node_modules scripts/pulumi-nodejs-modules.sh makes (the SDK compiled
// by tsc), or a skip without the npm packages or the language host.
func typeScriptProgram(t *testing.T, name string) string {
	t.Helper()
	languageHost(t, "pulumi-language-nodejs")
	npm := os.Getenv("AEROLITH_NPM_DIR")
	if npm == "" {
		t.Skip("needs @pulumi/pulumi, typescript and ts-node in AEROLITH_NPM_DIR: `make tools/npm` installs them into .tools/npm (make test-stacks sets it)")
	}
	root := repoRoot(t)
	dir := copyProgram(t, filepath.Join(root, "examples", "pulumi", name))
	cmd := exec.Command(filepath.Join(root, "scripts", "pulumi-nodejs-modules.sh"), dir)
	cmd.Env = append(os.Environ(), "NPM_DIR="+npm)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node_modules for the program: %v\n%s", err, out)
	}
	return dir
}

// TestPulumiProgramDirTypeScript: `pulumi up` of examples/pulumi/local,
// the TypeScript program, through pulumi-language-nodejs, the
// @pulumi/pulumi runtime and ts-node of .tools/npm and the generated SDK
// compiled by scripts/pulumi-nodejs-modules.sh.
func TestPulumiProgramDirTypeScript(t *testing.T) {
	cli := pulumiCLI(t)
	dir := typeScriptProgram(t, "local")
	runProgram(t, cli, localProgram(t, dir, "aerolith-local", "pulumi-dir-ts"))
}

// TestPulumiProgramDirAWSSimulator: `pulumi up` of examples/pulumi/aws,
// the TypeScript program of a managed cluster on AWS, against the cloud
// simulator as a user runs it: the stack's configuration names billing
// (the key a secret), the simulator as the EC2 endpoint and the agent's
// release download; the credentials are in the environment. Its instances
// boot real agents that enroll with billing over TLS; destroy leaves none.
func TestPulumiProgramDirAWSSimulator(t *testing.T) {
	cli := pulumiCLI(t)
	dir := typeScriptProgram(t, "aws")
	sim := cloudsimtest.Start(t, binary)
	cloudsimtest.SetCredentials(t, "aws", sim.URL)
	const project, cluster = "aerolith-aws", "pulumi-dir-aws"
	runProgram(t, cli, programRun{dir: dir, project: project, cluster: cluster,
		config: func(bill *proctest.Billing, stateDir string) auto.ConfigMap {
			return auto.ConfigMap{
				project + ":billingUrl":    {Value: bill.URL()},
				project + ":billingKey":    {Value: bill.AdminKey(), Secret: true},
				project + ":billingCaFile": {Value: bill.CAFile()},
				project + ":stateDir":      {Value: stateDir},
				project + ":endpoint":      {Value: sim.URL},
				project + ":agentUrl":      {Value: sim.AgentURL},
				project + ":agentSha256":   {Value: sim.AgentSHA256},
				project + ":allowedCidrs":  {Value: `["127.0.0.0/8"]`},
				project + ":clusterName":   {Value: cluster},
			}
		},
		afterUp: func(outs auto.OutputMap) {
			checkNodes(t, awsSim, cluster, outs["nodes"].Value, 3)
			if addrs, _ := outs["nodeAddresses"].Value.([]any); len(addrs) != 3 {
				t.Errorf("nodeAddresses = %v, want 3", outs["nodeAddresses"].Value)
			}
			if live := sim.Live(); len(live) != 3 {
				t.Errorf("the simulator runs %d instances, want 3: %+v", len(live), live)
			}
		},
		afterDestroy: func() {
			if live := sim.Live(); len(live) != 0 {
				t.Errorf("the simulator still runs %d instances after destroy: %+v", len(live), live)
			}
		},
	})
}

// runProgram: up creates the tenant, a 3-node cluster, a key, a
// collection and an index or the provider; the key writes a document;
// the secrets are secret outputs and never in plain text in the state;
// refresh and preview find nothing to change; destroy stops the nodes,
// deregisters the cluster (its enrollment token stops working) and
// deletes the tenant.
func runProgram(t *testing.T, cli auto.PulumiCommand, p programRun) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	bill, err := proctest.StartBilling(ctx, proctest.BillingConfig{Binary: binary, Dir: t.TempDir(), TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bill.Stop()
	admin, err := bill.Admin()
	if err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	clusterName := p.cluster

	env, backend := offlineEnv(t)
	stack, err := auto.UpsertStackLocalSource(ctx, "test", p.dir, auto.Pulumi(cli), auto.EnvVars(env))
	if err != nil {
		t.Fatal(err)
	}
	if err := stack.SetAllConfig(ctx, p.config(bill, stateDir)); err != nil {
		t.Fatal(err)
	}
	destroyed := false
	defer func() {
		if !destroyed {
			if _, err := stack.Destroy(context.Background()); err != nil {
				t.Logf("cleanup destroy: %v", err)
			}
		}
	}()

	up, err := stack.Up(ctx, optup.ProgressStreams(testWriter{t}), optup.ErrorProgressStreams(testWriter{t}))
	if err != nil {
		t.Fatalf("pulumi up of %s: %v", p.dir, err)
	}
	// stack, tenant, cluster, key, collection and an index (the default
	// provider is not counted) or an explicit provider
	if got := (*up.Summary.ResourceChanges)["create"]; got != 6 {
		t.Errorf("up created %d resources, want 6: %v", got, *up.Summary.ResourceChanges)
	}
	for _, name := range []string{"apiKey", "adminKey"} {
		out, ok := up.Outputs[name]
		if !ok || !out.Secret {
			t.Errorf("output %s: secret=%v present=%v, want a secret", name, out.Secret, ok)
		}
		if s, _ := out.Value.(string); s == "" {
			t.Errorf("output %s is empty", name)
		}
	}
	for _, name := range []string{"tenantId", "billingClusterId", "endpoints", "caCertificate"} {
		if out := up.Outputs[name]; out.Secret || out.Value == nil {
			t.Errorf("output %s = %+v, want a plain value", name, out)
		}
	}
	eps, _ := up.Outputs["endpoints"].Value.([]any)
	if len(eps) != 3 {
		t.Fatalf("endpoints = %v, want 3", up.Outputs["endpoints"].Value)
	}
	tenantID, _ := up.Outputs["tenantId"].Value.(string)
	if _, err := admin.GetTenant(ctx, tenantID); err != nil {
		t.Errorf("billing does not know tenant %q: %v", tenantID, err)
	}
	if p.afterUp != nil {
		p.afterUp(up.Outputs)
	}
	apiKey, _ := up.Outputs["apiKey"].Value.(string)
	ca, _ := up.Outputs["caCertificate"].Value.(string)
	writeDocument(ctx, t, eps[0].(string), ca, apiKey)

	_, secrets, err := deployment.Store{Dir: stateDir}.Load(clusterName)
	if err != nil {
		t.Fatal(err)
	}
	billingClusterID, _ := up.Outputs["billingClusterId"].Value.(string)
	asCluster, err := billingclient.New(billingclient.Config{URL: bill.URL(), Key: secrets.EnrollmentToken, Timeout: 10 * time.Second, HTTPClient: bill.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asCluster.GetCluster(ctx, billingClusterID); err != nil {
		t.Errorf("the enrollment token does not authenticate its cluster %s before destroy: %v", billingClusterID, err)
	}

	files := stateFiles(t, backend)
	checkpoint := false
	for f, b := range files {
		if strings.HasSuffix(f, filepath.Join("stacks", p.project, "test.json")) {
			checkpoint = bytes.Contains(b, []byte("aerolith:index/collection:Collection"))
		}
	}
	if !checkpoint {
		t.Fatalf("no checkpoint with the collection among the backend's %d files", len(files))
	}
	plain := map[string]string{
		"api key secret":   apiKey,
		"admin key":        up.Outputs["adminKey"].Value.(string),
		"enrollment token": secrets.EnrollmentToken,
		"billing key":      bill.AdminKey(),
	}
	for what, v := range plain {
		if v == "" {
			t.Errorf("%s is empty: nothing to look for", what)
			continue
		}
		for f, b := range files {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("the %s is in plain text in %s", what, f)
			}
		}
	}

	// Pulumi's default parallelism: the collection and the index of one
	// cluster are read at once (the provider waits for the cluster's lock).
	if _, err := stack.Refresh(ctx, optrefresh.ExpectNoChanges(), optrefresh.ProgressStreams(testWriter{t})); err != nil {
		t.Fatalf("pulumi refresh (expect no changes): %v", err)
	}
	if _, err := stack.Preview(ctx, optpreview.ExpectNoChanges(), optpreview.ProgressStreams(testWriter{t})); err != nil {
		t.Fatalf("pulumi preview (expect no changes): %v", err)
	}

	if _, err := stack.Destroy(ctx, optdestroy.ProgressStreams(testWriter{t})); err != nil {
		t.Fatalf("pulumi destroy: %v", err)
	}
	destroyed = true
	if p.afterDestroy != nil {
		p.afterDestroy()
	}
	if _, err := asCluster.GetCluster(ctx, billingClusterID); !billingclient.IsUnauthenticated(err) && !billingclient.IsNotFound(err) {
		t.Errorf("after destroy the enrollment token still reads cluster %s (err %v): billing keeps it registered", billingClusterID, err)
	}
	if _, _, err := (deployment.Store{Dir: stateDir}).Load(clusterName); err == nil {
		t.Error("the cluster's record is still in the state dir after destroy")
	}
	if ten, err := admin.GetTenant(ctx, tenantID); err == nil && ten.Status != contract.StatusDeleted {
		t.Errorf("tenant %s after destroy: %+v", tenantID, ten)
	}
}

// writeDocument writes an order with the tenant key the program made,
// over TLS verified with the cluster's CA (caCertificate output).
func writeDocument(ctx context.Context, t *testing.T, endpoint, caPEM, key string) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		t.Fatalf("caCertificate output holds no PEM certificate: %q", caPEM)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body := `{"data":{"customer":"c-42","total":1250}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/api/v1/collections/orders/documents", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("write a document with the program's key: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s/api/v1/collections/orders/documents = %d %s, want 201", endpoint, resp.StatusCode, b)
	}
	if !bytes.Contains(b, []byte(`"c-42"`)) {
		t.Errorf("the written document = %s", b)
	}
}

// TestPulumiProgramDirGo: `pulumi up` of examples/pulumi/local-go, the
// same program in Go on the generated Go SDK, through pulumi-language-go
// (which builds it with the go command, from the module cache).
func TestPulumiProgramDirGo(t *testing.T) {
	cli := pulumiCLI(t)
	languageHost(t, "pulumi-language-go")
	root := repoRoot(t)
	dir := copyProgram(t, filepath.Join(root, "examples", "pulumi", "local-go"))
	// The copy's go.mod reaches this checkout by absolute paths.
	edit := exec.Command("go", "mod", "edit",
		"-replace", "github.com/aerolithdb/aerolith="+root,
		"-replace", "github.com/aerolithdb/aerolith/stacks="+filepath.Join(root, "stacks"))
	edit.Dir = dir
	if out, err := edit.CombinedOutput(); err != nil {
		t.Fatalf("go mod edit: %v\n%s", err, out)
	}
	runProgram(t, cli, localProgram(t, dir, "aerolith-local-go", "pulumi-dir-go"))
}
