// Command demo shows the operator end to end without a Kubernetes
// cluster (make demo-kubernetes): a real kube-apiserver and etcd
// (envtest, KUBEBUILDER_ASSETS), a billing process, the operator, and
// podsim playing the kubelet with one local agent process per pod. It
// creates the AerolithCluster of a YAML file (billing URL and tenant
// replaced by the local ones, billing's CA given), writes documents over
// HTTPS verified with the CA the operator publishes, scales the cluster
// 3 → 5 → 3, kills the raft leader's agent (a leader election, then
// Degraded until podsim restarts it, as a kubelet would) and prints what
// happens, the cluster's events last. The file's TLS mode is
// kept: in mode Enrollment every pod obtains its certificate from billing.
package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	agentclient "github.com/aerolithdb/aerolith/agent/client"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
	"github.com/aerolithdb/aerolith/operator/controller"
	"github.com/aerolithdb/aerolith/operator/podsim"
	"github.com/aerolithdb/aerolith/tests/proctest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	bin := flag.String("binary", "bin/aerolith", "the aerolith binary (make build)")
	file := flag.String("file", "examples/kubernetes/cluster.yaml", "the AerolithCluster to create")
	flag.Parse()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return errors.New("KUBEBUILDER_ASSETS is unset: run make demo-kubernetes (it builds kube-apiserver and etcd into .tools/envtest)")
	}
	absBin, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	var ac aerov1.AerolithCluster
	if err := yaml.UnmarshalStrict(raw, &ac); err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	dir, err := os.MkdirTemp("", "aerolith-k8s-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	say := func(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), aerov1.AddToScheme(scheme)); err != nil {
		return err
	}
	ctrl.SetLogger(logr.Discard())
	env := &envtest.Environment{CRDDirectoryPaths: []string{"modules/kubernetes/crd"}, ErrorIfCRDPathMissing: true, Scheme: scheme}
	say("starting kube-apiserver and etcd from %s", os.Getenv("KUBEBUILDER_ASSETS"))
	cfg, err := env.Start()
	if err != nil {
		return err
	}
	defer env.Stop() //nolint:errcheck
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}

	say("starting billing")
	// Agents with TLS insist on billing over HTTPS.
	bill, err := proctest.StartBilling(ctx, proctest.BillingConfig{Binary: absBin, Dir: filepath.Join(dir, "billing"), TLS: true})
	if err != nil {
		return err
	}
	defer bill.Stop()
	admin, err := bill.Admin()
	if err != nil {
		return err
	}
	ten, err := admin.CreateTenant(ctx, billingclient.TenantRequest{Organization: "Example", Name: "example", Tier: "free", Email: "ops@example.com"})
	if err != nil {
		return err
	}
	ns := "default"
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ac.Spec.Billing.CredentialsSecret.Name},
		Data: map[string][]byte{ac.Spec.Billing.CredentialsSecret.Key: []byte(bill.AdminKey())}}); err != nil {
		return err
	}
	billingCA, err := os.ReadFile(bill.CAFile())
	if err != nil {
		return err
	}
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "billing-ca"},
		Data: map[string][]byte{"ca.crt": billingCA}}); err != nil {
		return err
	}
	urlScheme := "https"
	if ac.Spec.TLS != nil && ac.Spec.TLS.Mode == aerov1.TLSDisabled {
		urlScheme = "http"
	}

	log := slog.New(slog.NewTextHandler(os.Stdout, nil))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		return err
	}
	r := controller.New(controller.Config{Client: mgr.GetClient(), Scheme: scheme, Recorder: mgr.GetEventRecorderFor("aerolith-operator"),
		Log: log, Poll: 500 * time.Millisecond,
		NodeURL: func(_ *aerov1.AerolithCluster, p *corev1.Pod) string {
			return urlScheme + "://" + p.Status.PodIP + ":" + strconv.Itoa(controller.HTTPPort)
		}})
	if err := r.SetupWithManager(mgr); err != nil {
		return err
	}
	go func() { _ = mgr.Start(ctx) }()
	k, err := podsim.New(podsim.Config{Client: c, Namespace: ns, Binary: absBin, Dir: filepath.Join(dir, "pods"), Log: log})
	if err != nil {
		return err
	}
	simCtx, simStop := context.WithCancel(context.Background())
	simDone := make(chan error, 1)
	go func() { simDone <- k.Run(simCtx) }()
	defer func() { simStop(); <-simDone }()

	ac.Namespace = ns
	ac.Spec.TenantID = ten.ID
	ac.Spec.Billing.URL = bill.URL()
	ac.Spec.Billing.CASecret = &aerov1.SecretKeyRef{Name: "billing-ca", Key: "ca.crt"}
	ac.Spec.AllowedCIDRs = nil
	say("kubectl apply -f %s (tenant %s, billing %s)", *file, ten.ID, bill.URL())
	if err := c.Create(ctx, &ac); err != nil {
		return err
	}
	if err := waitReady(ctx, c, &ac, ac.Spec.Nodes, say); err != nil {
		return err
	}

	var sec corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: controller.AdminSecretName(&ac)}, &sec); err != nil {
		return err
	}
	urls := make([]string, 5)
	for i := range urls {
		urls[i] = urlScheme + "://" + k.PodIP(i) + ":" + strconv.Itoa(controller.HTTPPort)
	}
	var tlsCfg *tls.Config
	if urlScheme == "https" {
		var cm corev1.ConfigMap
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: controller.CAConfigMapName(&ac)}, &cm); err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(cm.Data[controller.CACertKey])) {
			return errors.New("configmap " + cm.Name + ": no CA certificate")
		}
		tlsCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		say("clients verify the nodes with ConfigMap %s (key %s)", cm.Name, controller.CACertKey)
	}
	ad, err := agentclient.New(agentclient.Config{URL: strings.Join(urls[:3], ","), Key: string(sec.Data[controller.AdminKeySecretKey]), TLS: tlsCfg})
	if err != nil {
		return err
	}
	key, err := ad.CreateKey(ctx, ten.ID, "readwrite", "demo")
	if err != nil {
		return err
	}
	wc, err := agentclient.New(agentclient.Config{URL: strings.Join(urls, ","), Key: key.Key, ConnectTimeout: time.Second, RetryBudget: 10 * time.Second, TLS: tlsCfg})
	if err != nil {
		return err
	}
	wctx, wstop := context.WithCancel(ctx)
	defer wstop()
	acked := make(chan int, 1)
	go func() {
		n := 0
		for i := 0; wctx.Err() == nil; i++ {
			if _, err := wc.Put(wctx, "demo", fmt.Sprintf("doc%06d", i), map[string]int{"n": i}); err == nil {
				n++
			}
		}
		acked <- n
	}()
	for _, n := range []int32{5, 3} {
		say("kubectl patch ac %s --type merge -p '{\"spec\":{\"nodes\":%d}}'", ac.Name, n)
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(&ac), &ac); err != nil {
				return err
			}
			ac.Spec.Nodes = n
			return c.Update(ctx, &ac)
		})
		if err != nil {
			return err
		}
		if err := waitReady(ctx, c, &ac, n, say); err != nil {
			return err
		}
	}
	// The leader's node crashes: raft elects another among the two left
	// (the cluster says so), the cluster says which node is down, serves
	// with the majority, and is Running again once the stand-in kubelet
	// restarted the agent.
	victim := ac.Status.Leader
	if pid, ok := k.PID(victim); ok {
		before, _, err := eventCounts(ctx, c, &ac)
		if err != nil {
			return err
		}
		say("kill -9 the agent of %s, the raft leader (pid %d)", victim, pid)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return err
		}
		if err := waitPhase(ctx, c, &ac, aerov1.PhaseDegraded); err != nil {
			return err
		}
		printConditions(&ac, say)
		if err := waitLeader(ctx, c, &ac, victim); err != nil {
			return err
		}
		printConditions(&ac, say)
		if err := waitReady(ctx, c, &ac, 3, say); err != nil {
			return err
		}
		if err := printEvents(ctx, c, &ac, before, say); err != nil {
			return err
		}
	}
	wstop()
	say("%d documents written while scaling and with a node down; the cluster is %s with %d voters, leader %s", <-acked, ac.Status.Phase, ac.Status.Voters, ac.Status.Leader)
	return nil
}

func printConditions(ac *aerov1.AerolithCluster, say func(string, ...any)) {
	for _, typ := range []string{aerov1.ConditionDegraded, aerov1.ConditionReady} {
		if cd := apimeta.FindStatusCondition(ac.Status.Conditions, typ); cd != nil {
			say("condition %s=%s %s: %s", typ, cd.Status, cd.Reason, cd.Message)
		}
	}
}

// waitLeader waits until ac names a leader other than lost.
func waitLeader(ctx context.Context, c client.Client, ac *aerov1.AerolithCluster, lost string) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		if ac.Status.Leader != "" && ac.Status.Leader != lost {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("no leader other than %s after a minute", lost)
}

// eventCounts are the counts of ac's events by name.
func eventCounts(ctx context.Context, c client.Client, ac *aerov1.AerolithCluster) (map[string]int32, []corev1.Event, error) {
	var evs corev1.EventList
	if err := c.List(ctx, &evs, client.InNamespace(ac.Namespace)); err != nil {
		return nil, nil, err
	}
	n := map[string]int32{}
	var mine []corev1.Event
	for _, e := range evs.Items {
		if e.InvolvedObject.UID == ac.UID {
			n[e.Name] = max(e.Count, 1)
			mine = append(mine, e)
		}
	}
	return n, mine, nil
}

// printEvents prints ac's events that are not in before (or were
// repeated since), oldest first, as `kubectl get events` lists them,
// once the Recovered event is among them (the recorder sends events
// asynchronously).
func printEvents(ctx context.Context, c client.Client, ac *aerov1.AerolithCluster, before map[string]int32, say func(string, ...any)) error {
	deadline := time.Now().Add(10 * time.Second)
	var news []corev1.Event
	for {
		_, evs, err := eventCounts(ctx, c, ac)
		if err != nil {
			return err
		}
		news = slices.DeleteFunc(evs, func(e corev1.Event) bool { return max(e.Count, 1) <= before[e.Name] })
		if slices.ContainsFunc(news, func(e corev1.Event) bool { return e.Reason == controller.ReasonRecovered }) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	// Timestamps are in seconds; the recorder names an event
	// <object>.<creation time in hex nanoseconds>, which orders the rest.
	slices.SortFunc(news, func(a, b corev1.Event) int {
		return cmp.Or(a.FirstTimestamp.Compare(b.FirstTimestamp.Time), strings.Compare(a.Name, b.Name))
	})
	say("kubectl get events (since the kill):")
	for _, e := range news {
		say("  %s  %-8s %-15s ×%d  %s", e.FirstTimestamp.UTC().Format(time.TimeOnly), e.Type, e.Reason, max(e.Count, 1)-before[e.Name], e.Message)
	}
	return nil
}

// waitPhase waits until ac's phase is phase.
func waitPhase(ctx context.Context, c client.Client, ac *aerov1.AerolithCluster, phase string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		if ac.Status.Phase == phase {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("cluster not %s after 2 minutes (phase %s)", phase, ac.Status.Phase)
}

// waitReady prints the status as it changes until ac is Running with n
// voters.
func waitReady(ctx context.Context, c client.Client, ac *aerov1.AerolithCluster, n int32, say func(string, ...any)) error {
	last := ""
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		s := ac.Status
		line := fmt.Sprintf("status: phase=%s nodes=%d ready=%d voters=%d leader=%s", s.Phase, s.Nodes, s.ReadyNodes, s.Voters, s.Leader)
		if line != last {
			say("%s", line)
			last = line
		}
		if s.Phase == aerov1.PhaseRunning && s.Voters == n && s.Nodes == n && s.ReadyNodes == n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return fmt.Errorf("cluster not Ready with %d voters after 5 minutes", n)
}
