package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentclient "github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/internal/testwait"
	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
	"github.com/aerolithdb/aerolith/operator/controller"
	"github.com/aerolithdb/aerolith/operator/podsim"
)

// podURL reaches a pod at the address the pod stand-in reports for it.
func podURL(_ *aerov1.AerolithCluster, p *corev1.Pod) string {
	return "http://" + p.Status.PodIP + ":" + strconv.Itoa(controller.HTTPPort)
}

// waitRunning waits until ac is Ready with n nodes, n ready and n voters.
func waitRunning(t *testing.T, f *fixture, ac *aerov1.AerolithCluster, n int32) {
	t.Helper()
	testwait.For(t, 3*time.Minute, fmt.Sprintf("cluster Ready with %d voters", n), func() error {
		if err := f.c.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		s := ac.Status
		if !apimeta.IsStatusConditionTrue(s.Conditions, aerov1.ConditionReady) || s.Nodes != n || s.ReadyNodes != n || s.Voters != n || s.Leader == "" {
			return fmt.Errorf("phase %s nodes %d ready %d voters %d leader %q", s.Phase, s.Nodes, s.ReadyNodes, s.Voters, s.Leader)
		}
		return nil
	})
}

// writer puts documents until stopped and remembers the acknowledged ones.
type writer struct {
	c      *agentclient.Client
	mu     sync.Mutex
	acked  map[string]int
	failed int
}

func (w *writer) run(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		id := fmt.Sprintf("k%06d", i)
		_, err := w.c.Put(ctx, "load", id, map[string]int{"n": i})
		w.mu.Lock()
		if err == nil {
			w.acked[id] = i
		} else {
			w.failed++
		}
		w.mu.Unlock()
	}
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// TestScaleUpAndDownUnderWriteLoad runs a cluster whose pods are real
// agent processes (podsim plays the kubelet), scales it 3 → 5 → 3 → 1
// while a client writes, and checks that no acknowledged write is lost and that
// every node left raft before its pod was stopped.
func TestScaleUpAndDownUnderWriteLoad(t *testing.T) {
	f := newFixture(t, func(c *controller.Config) { c.NodeURL = podURL })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var kmu sync.Mutex
	var stopped, violations []string
	var k *podsim.Kubelet
	simLogs := &syncBuffer{}
	k, err := podsim.New(podsim.Config{
		Client: f.c, Namespace: f.ns, Binary: binary, Dir: t.TempDir(),
		Log: slog.New(slog.NewTextHandler(simLogs, nil)),
		// The pod is about to go: raft must not list it any more.
		BeforeStop: func(pod string, env map[string]string) {
			nc, err := agentclient.New(agentclient.Config{URL: "http://" + k.PodIP(0) + ":7070,http://" + k.PodIP(1) + ":7070,http://" + k.PodIP(2) + ":7070",
				Key: env["AEROLITH_ADMIN_KEY"], Timeout: 5 * time.Second})
			kmu.Lock()
			defer kmu.Unlock()
			stopped = append(stopped, pod)
			if err != nil {
				violations = append(violations, pod+": "+err.Error())
				return
			}
			st, err := nc.Cluster(ctx)
			if err != nil {
				violations = append(violations, pod+": membership: "+err.Error())
				return
			}
			for _, m := range st.Members {
				if m.ID == pod {
					violations = append(violations, pod+" still a raft member when its pod was stopped")
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	simDone := make(chan error, 1)
	simCtx, simCancel := context.WithCancel(ctx)
	go func() { simDone <- k.Run(simCtx) }()
	defer func() {
		simCancel()
		if err := <-simDone; err != nil {
			t.Logf("podsim stop: %v", err)
		}
		if t.Failed() {
			t.Logf("podsim log (tail):\n%s", tailString(simLogs.String(), 60))
			for i := range 5 {
				t.Logf("db-%d log tail:\n%s", i, tail(k.LogPath("db-"+strconv.Itoa(i)), 15))
			}
		}
	}()

	ac := f.cluster("db", 3)
	if err := f.c.Create(ctx, ac); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, f, ac, 3)

	// A tenant key for the load, made through the cluster admin key.
	var admin corev1.Secret
	if err := f.c.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: controller.AdminSecretName(ac)}, &admin); err != nil {
		t.Fatal(err)
	}
	urls := make([]string, 5)
	for i := range urls {
		urls[i] = "http://" + k.PodIP(i) + ":7070"
	}
	ac0, err := agentclient.New(agentclient.Config{URL: strings.Join(urls[:3], ","), Key: string(admin.Data[controller.AdminKeySecretKey])})
	if err != nil {
		t.Fatal(err)
	}
	var key *agentclient.APIKey
	testwait.For(t, waitLimit, "a readwrite key", func() error {
		key, err = ac0.CreateKey(ctx, f.tenant, "readwrite", "load")
		return err
	})
	wc, err := agentclient.New(agentclient.Config{URL: strings.Join(urls, ","), Key: key.Key, Timeout: 5 * time.Second,
		ConnectTimeout: time.Second, RetryBudget: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w := &writer{c: wc, acked: map[string]int{}}
	wctx, wcancel := context.WithCancel(ctx)
	wdone := make(chan struct{})
	go func() { defer close(wdone); w.run(wctx) }()
	defer func() { wcancel(); <-wdone }()
	testwait.For(t, waitLimit, "writes acknowledged", func() error {
		if n := w.count(); n < 20 {
			return fmt.Errorf("%d acknowledged", n)
		}
		return nil
	})

	scale := func(n int32) {
		t.Helper()
		f.update(ac, func(a *aerov1.AerolithCluster) { a.Spec.Nodes = n })
		before := w.count()
		waitRunning(t, f, ac, n)
		testwait.For(t, waitLimit, "writes acknowledged after the scale", func() error {
			if got := w.count(); got < before+20 {
				return fmt.Errorf("%d acknowledged, %d before", got, before)
			}
			return nil
		})
	}
	scale(5)
	scale(3)
	var sts appsv1.StatefulSet
	if err := f.c.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: "db"}, &sts); err != nil || *sts.Spec.Replicas != 3 {
		t.Fatalf("statefulset replicas = %v (%v), want 3", sts.Spec.Replicas, err)
	}
	// Down to one node: the leader is among the two that go unless db-0
	// leads, so the store's leadership transfer on self-removal is
	// usually on the path too.
	leader := ac.Status.Leader
	scale(1)
	t.Logf("leader before 3 → 1: %s; after: %s", leader, ac.Status.Leader)
	wcancel()
	<-wdone

	// No acknowledged write is lost.
	rc, err := agentclient.New(agentclient.Config{URL: strings.Join(urls[:3], ","), Key: key.Key})
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for id, n := range w.acked {
		d, err := rc.Get(ctx, "load", id)
		if err != nil {
			t.Errorf("acknowledged %s: %v", id, err)
			lost++
			continue
		}
		var got struct{ N int }
		if err := json.Unmarshal(d.Data, &got); err != nil || got.N != n {
			t.Errorf("acknowledged %s = %s, want n %d", id, d.Data, n)
			lost++
		}
	}
	t.Logf("%d writes acknowledged, %d failed (not acknowledged), %d lost", len(w.acked), w.failed, lost)

	// Each removed node left raft before its pod was stopped, and the
	// operator's log shows the removal before the replica count dropped.
	kmu.Lock()
	defer kmu.Unlock()
	if !slices.Equal(stopped, []string{"db-4", "db-3", "db-2", "db-1"}) {
		t.Errorf("pods stopped = %v, want db-4, db-3, db-2, db-1 in this order", stopped)
	}
	for _, v := range violations {
		t.Error(v)
	}
	logs := f.logs.String()
	for _, m := range []string{"db-4", "db-3", "db-2", "db-1"} {
		at := func(msg string) int {
			loc := regexp.MustCompile(`(?m)msg="scale-down: ` + msg + `".*member=` + m + `( |$)`).FindStringIndex(logs)
			if loc == nil {
				return -1
			}
			return loc[0]
		}
		removing, removed, lowered := at("removing member from raft"), at("member removed from raft"), at("lowering replicas")
		if removing < 0 || removed < removing || lowered < removed {
			t.Errorf("operator log offsets for %s: removing from raft %d, removed %d, replicas lowered %d; want all three in this order", m, removing, removed, lowered)
		}
	}
}
