package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/provisioner/deployment"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// The acceptance tests drive the provider with the real Terraform CLI
// that `make test` builds (TF_ACC_TERRAFORM_PATH); they never download
// one. They share one billing service (with TLS, so ca_file is used) and
// the aerolith binary built once for the package.

var binary string

func TestMain(m *testing.M) {
	code := proctest.RunMain(m, &binary)
	shared.stop()
	os.Exit(code)
}

var factories = map[string]func() (tfprotov6.ProviderServer, error){
	"aerolith": providerserver.NewProtocol6WithError(New("test")()),
}

// accPreCheck skips unless the acceptance environment is there.
func accPreCheck(t *testing.T) {
	t.Helper()
	proctest.SkipIfShort(t)
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Skip("acceptance test: needs the Terraform CLI in TF_ACC_TERRAFORM_PATH; `make test` builds terraform v1.5.7 into .tools/ and sets it (and TF_ACC=1)")
	}
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 (make test does)")
	}
	// No update checks, no telemetry: the tests run offline.
	t.Setenv("CHECKPOINT_DISABLE", "1")
	// A CLI configuration of our own (empty): nothing of the machine's.
	rc := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(rc, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
}

type sharedBilling struct {
	once  sync.Once
	err   error
	bill  *proctest.Billing
	admin *billingclient.Client
	dir   string
}

var shared sharedBilling

// billing starts the package's billing service once.
func (s *sharedBilling) get(t *testing.T) (*proctest.Billing, *billingclient.Client) {
	t.Helper()
	s.once.Do(func() {
		if s.dir, s.err = os.MkdirTemp("", "aerolith-tf-billing-"); s.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if s.bill, s.err = proctest.StartBilling(ctx, proctest.BillingConfig{Binary: binary, Dir: s.dir, TLS: true}); s.err != nil {
			return
		}
		s.admin, s.err = s.bill.Admin()
	})
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.bill, s.admin
}

func (s *sharedBilling) stop() {
	if s.bill != nil {
		s.bill.Stop()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// providerBlock configures the provider against the shared billing with
// the admin key, keeping clusters' files in stateDir.
func providerBlock(t *testing.T, stateDir string, extra string) string {
	t.Helper()
	bill, _ := shared.get(t)
	return fmt.Sprintf(`
provider "aerolith" {
  billing_url = %q
  billing_key = %q
  ca_file     = %q
  state_dir   = %q
%s
}
`, bill.URL(), bill.AdminKey(), bill.CAFile(), stateDir, extra)
}

// agentArtifact is the aerolith binary as a file:// agent_url and its digest.
func agentArtifact(t *testing.T) (string, string) {
	t.Helper()
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return "file://" + binary, hex.EncodeToString(sum[:])
}

// stateDir is a test's provider state_dir; whatever cluster is left in it
// when the test ends (a failed step, a destroy refused) is destroyed, so
// no local instance process outlives the test.
func stateDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		store := deployment.Store{Dir: dir}
		names, _ := store.Names()
		for _, n := range names {
			rec, sec, err := store.Load(n)
			if err != nil {
				continue
			}
			env, err := deployment.New(context.Background(), deployment.Config{Store: store, Record: rec, Secrets: sec, LocalCommand: []string{binary, deployment.LocalInstanceCommand}})
			if err != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			if err := env.Prov.Destroy(ctx, &rec.Spec); err != nil {
				t.Errorf("cleanup: destroy %s: %v", n, err)
			}
			cancel()
		}
	})
	return dir
}
