package controller_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	billingclient "github.com/aerolithdb/aerolith/billing/client"
	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
	"github.com/aerolithdb/aerolith/operator/controller"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

// The package's tests share one control plane (a real kube-apiserver and
// etcd, built by `make envtest-tools`), one aerolith binary and one
// billing process; each test works in a namespace of its own.
var (
	binary  string
	restCfg *rest.Config
	scheme  = runtime.NewScheme()
)

// skipMsg is why the suite skips: it never downloads anything.
const skipMsg = "KUBEBUILDER_ASSETS is unset: run `make test-operator` (it builds kube-apiserver and etcd into .tools/envtest and sets it)"

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return m.Run() // every test skips with skipMsg
	}
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := aerov1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	ctrl.SetLogger(logr.Discard())
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "modules", "kubernetes", "crd")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		return 1
	}
	defer env.Stop() //nolint:errcheck
	restCfg = cfg
	flag.Parse() // testing.Short needs the flags; RunMain parses them again
	if !testing.Short() {
		cleanup, err := useMainModuleBinary()
		if err != nil {
			fmt.Fprintln(os.Stderr, "build aerolith:", err)
			return 1
		}
		defer cleanup()
	}
	return proctest.RunMain(m, &binary)
}

// fixture is one test's namespace, operator and billing.
type fixture struct {
	t      *testing.T
	ns     string
	c      client.Client
	bill   *proctest.Billing
	admin  *billingclient.Client
	tenant string
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newFixture starts billing with one tenant, a namespace holding billing's
// admin key in Secret "billing", and (unless noOperator) the operator.
func newFixture(t *testing.T, opts ...func(*controller.Config)) *fixture {
	t.Helper()
	return startFixture(t, false, opts...)
}

// startFixture is newFixture; billingTLS serves billing over HTTPS with a
// CA of its own (f.bill.CAFile), as agents with TLS require.
func startFixture(t *testing.T, billingTLS bool, opts ...func(*controller.Config)) *fixture {
	t.Helper()
	if restCfg == nil {
		t.Skip(skipMsg)
	}
	proctest.SkipIfShort(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := client.New(restCfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, c: c, logs: &syncBuffer{}}
	f.ns = strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(f.ns) > 50 {
		f.ns = f.ns[:50]
	}
	f.ns = uniqueName(f.ns)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns}}); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, 2*time.Minute)
	defer scancel()
	f.bill, err = proctest.StartBilling(sctx, proctest.BillingConfig{Binary: binary, Dir: t.TempDir(), TLS: billingTLS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("billing log:\n%s", f.bill.LogTail(30))
			t.Logf("operator log (tail):\n%s", tailString(f.logs.String(), 80))
			f.logObjects()
		}
		f.bill.Stop()
	})
	if f.admin, err = f.bill.Admin(); err != nil {
		t.Fatal(err)
	}
	ten, err := f.admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "Acme", Name: "acme", Tier: "free", Email: "ops@acme.example"})
	if err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	f.tenant = ten.ID
	f.setBillingKey(f.bill.AdminKey())

	cfg := controller.Config{Poll: 300 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	for _, o := range opts {
		o(&cfg)
	}
	// The operator runs as its ServiceAccount, bound to the generated
	// ClusterRole only: the manifests' least privilege is what it has.
	mgrCfg := rest.CopyConfig(restCfg)
	mgrCfg.Impersonate = rest.ImpersonationConfig{UserName: operatorUser(t), Groups: []string{"system:serviceaccounts", "system:authenticated"}}
	mgr, err := ctrl.NewManager(mgrCfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Client, cfg.Scheme, cfg.Recorder = mgr.GetClient(), scheme, mgr.GetEventRecorderFor("aerolith-operator")
	if err := controller.New(cfg).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	mctx, mcancel := context.WithCancel(ctx)
	go func() { done <- mgr.Start(mctx) }()
	t.Cleanup(func() {
		mcancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return f
}

// setBillingKey writes billing's admin key into Secret "billing".
func (f *fixture) setBillingKey(key string) {
	f.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "billing"}}
	_, err := ctrl.CreateOrUpdate(context.Background(), f.c, s, func() error {
		s.Data = map[string][]byte{"key": []byte(key)}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// cluster is a valid AerolithCluster of n nodes in the fixture's
// namespace, plain HTTP.
func (f *fixture) cluster(name string, n int32) *aerov1.AerolithCluster {
	return &aerov1.AerolithCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec: aerov1.AerolithClusterSpec{
			Nodes: n, TenantID: f.tenant, SubscriptionTier: aerov1.TierProfessional,
			TLS:     &aerov1.TLSSpec{Mode: aerov1.TLSDisabled},
			Billing: aerov1.BillingRef{URL: f.bill.URL(), CredentialsSecret: aerov1.SecretKeyRef{Name: "billing", Key: "key"}},
		},
	}
}

// tail is the last n lines of a file ("" when unreadable).
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return tailString(string(b), n)
}

// tailString is the last n lines of s.
func tailString(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var (
	rbacOnce sync.Once
	rbacErr  error
)

// operatorUser installs the generated ClusterRole, binds it to the
// operator's ServiceAccount user (once per package) and returns that user.
func operatorUser(t *testing.T) string {
	t.Helper()
	const user = "system:serviceaccount:aerolith-system:aerolith-operator"
	rbacOnce.Do(func() {
		var err error
		defer func() { rbacErr = err }()
		var b []byte
		if b, err = os.ReadFile(filepath.Join("..", "..", "modules", "kubernetes", "rbac", "role.yaml")); err != nil {
			return
		}
		var role rbacv1.ClusterRole
		if err = yaml.Unmarshal(b, &role); err != nil {
			return
		}
		c, cerr := client.New(restCfg, client.Options{Scheme: scheme})
		if cerr != nil {
			err = cerr
			return
		}
		ctx := context.Background()
		if err = c.Create(ctx, &role); err != nil {
			return
		}
		err = c.Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: role.Name},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: user}},
		})
	})
	if rbacErr != nil {
		t.Fatalf("install the operator's ClusterRole: %v", rbacErr)
	}
	return user
}

// update changes ac's spec with mutate on its latest version (the
// operator updates it too: finalizer, status).
func (f *fixture) update(ac *aerov1.AerolithCluster, mutate func(*aerov1.AerolithCluster)) {
	f.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := f.c.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		mutate(ac)
		return f.c.Update(context.Background(), ac)
	})
	if err != nil {
		f.t.Fatalf("update %s: %v", ac.Name, err)
	}
}

// uniqueName suffixes name so repeated runs (-count) against the one API
// server do not collide.
func uniqueName(name string) string {
	return name + "-" + utilrand.String(5)
}

// logObjects logs the conditions of every AerolithCluster and the events
// of the fixture's namespace: what the operator told the user, for a
// failed test whose operator log says nothing.
func (f *fixture) logObjects() {
	ctx := context.Background()
	var acs aerov1.AerolithClusterList
	if err := f.c.List(ctx, &acs, client.InNamespace(f.ns)); err != nil {
		f.t.Logf("list clusters: %v", err)
	}
	for _, ac := range acs.Items {
		f.t.Logf("cluster %s: phase %q, finalizers %v, cluster id %q", ac.Name, ac.Status.Phase, ac.Finalizers, ac.Status.ClusterID)
		for _, c := range ac.Status.Conditions {
			f.t.Logf("  condition %s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message)
		}
	}
	var evs corev1.EventList
	if err := f.c.List(ctx, &evs, client.InNamespace(f.ns)); err != nil {
		f.t.Logf("list events: %v", err)
	}
	for _, e := range evs.Items {
		f.t.Logf("event %s %s/%s ×%d: %s", e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Count, e.Message)
	}
}
