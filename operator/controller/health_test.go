package controller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentclient "github.com/aerolithdb/aerolith/agent/client"
	"github.com/aerolithdb/aerolith/internal/testwait"
	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
	"github.com/aerolithdb/aerolith/operator/controller"
	"github.com/aerolithdb/aerolith/operator/podsim"
)

// runPods starts podsim (the kubelet stand-in) for f's namespace until the
// test ends; on failure it logs podsim's and the named pods' logs.
func runPods(t *testing.T, f *fixture, pods ...string) *podsim.Kubelet {
	t.Helper()
	logs := &syncBuffer{}
	k, err := podsim.New(podsim.Config{Client: f.c, Namespace: f.ns, Binary: binary, Dir: t.TempDir(),
		Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Logf("podsim stop: %v", err)
		}
		if t.Failed() {
			t.Logf("podsim log (tail):\n%s", tailString(logs.String(), 60))
			for _, p := range pods {
				t.Logf("%s log tail:\n%s", p, tail(k.LogPath(p), 15))
			}
		}
	})
	return k
}

// kill SIGKILLs pod's agent process, as a crash or the OOM killer would.
func kill(t *testing.T, k *podsim.Kubelet, pod string) {
	t.Helper()
	pid, ok := k.PID(pod)
	if !ok {
		t.Fatalf("%s runs no process", pod)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s (pid %d): %v", pod, pid, err)
	}
	t.Logf("killed %s (pid %d)", pod, pid)
}

// waitCondition waits until ac's phase is phase and its condition typ has
// status st and reason, and returns that condition's message.
func waitCondition(t *testing.T, f *fixture, ac *aerov1.AerolithCluster, phase, typ string, st metav1.ConditionStatus, reason string) string {
	t.Helper()
	var msg string
	testwait.For(t, 2*time.Minute, fmt.Sprintf("phase %s, %s=%s (%s)", phase, typ, st, reason), func() error {
		if err := f.c.Get(context.Background(), client.ObjectKeyFromObject(ac), ac); err != nil {
			return err
		}
		c := apimeta.FindStatusCondition(ac.Status.Conditions, typ)
		if ac.Status.Phase != phase || c == nil || c.Status != st || c.Reason != reason {
			return fmt.Errorf("phase %s, %s %+v", ac.Status.Phase, typ, c)
		}
		msg = c.Message
		return nil
	})
	return msg
}

// events are the events of ac with reason ("": any), oldest first.
func events(t *testing.T, f *fixture, ac *aerov1.AerolithCluster, reason string) []corev1.Event {
	t.Helper()
	var evs corev1.EventList
	if err := f.c.List(context.Background(), &evs, client.InNamespace(f.ns)); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range evs.Items {
		if e.InvolvedObject.UID == ac.UID && (reason == "" || e.Reason == reason) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b corev1.Event) int { return a.FirstTimestamp.Compare(b.FirstTimestamp.Time) })
	return out
}

// allEvents are ac's events, oldest first.
func allEvents(t *testing.T, f *fixture, ac *aerov1.AerolithCluster) []corev1.Event {
	t.Helper()
	return events(t, f, ac, "")
}

// watchReasons records the reasons of ac's Degraded condition, in order
// and without repeats, until the returned function is called, which
// returns them.
func watchReasons(t *testing.T, f *fixture, ac *aerov1.AerolithCluster) func() []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	key := client.ObjectKeyFromObject(ac) // ac is the test's to change
	var reasons []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			var cur aerov1.AerolithCluster
			if err := f.c.Get(ctx, key, &cur); err == nil {
				if c := apimeta.FindStatusCondition(cur.Status.Conditions, aerov1.ConditionDegraded); c != nil && c.Status == metav1.ConditionTrue &&
					(len(reasons) == 0 || reasons[len(reasons)-1] != c.Reason) {
					reasons = append(reasons, c.Reason)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	stop := func() []string {
		cancel()
		<-done
		return reasons
	}
	t.Cleanup(func() { stop() })
	return stop
}

// eventCount is how often ac had an event with reason whose message
// contains substr (the recorder folds repeats into Count).
func eventCount(t *testing.T, f *fixture, ac *aerov1.AerolithCluster, reason, substr string) int32 {
	t.Helper()
	var n int32
	for _, e := range events(t, f, ac, reason) {
		if strings.Contains(e.Message, substr) {
			n += max(e.Count, 1)
		}
	}
	return n
}

// TestNodeLossDegradesAndRecovers kills agents of a Running 3-node cluster
// under a write load, as a crash would. One follower down: Degraded
// naming it, still Ready (a majority serves) and writes acknowledged;
// podsim restarts it after the kubelet's back-off and the cluster is
// Running again. The leader down: at most one LeaderElection while raft
// elects another, then Degraded naming it with the new leader, never
// QuorumLost. Two nodes down: Ready=False (QuorumLost) until they are
// back. No acknowledged write is lost, and the events mark the
// transitions, not every pass.
func TestNodeLossDegradesAndRecovers(t *testing.T) {
	f := newFixture(t, func(c *controller.Config) { c.NodeURL = podURL })
	ctx := context.Background()
	k := runPods(t, f, "hl-0", "hl-1", "hl-2")
	ac := f.cluster("hl", 3)
	if err := f.c.Create(ctx, ac); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, f, ac, 3)

	var admin corev1.Secret
	if err := f.c.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: controller.AdminSecretName(ac)}, &admin); err != nil {
		t.Fatal(err)
	}
	urls := make([]string, 3)
	for i := range urls {
		urls[i] = "http://" + k.PodIP(i) + ":" + strconv.Itoa(controller.HTTPPort)
	}
	adm, err := agentclient.New(agentclient.Config{URL: strings.Join(urls, ","), Key: string(admin.Data[controller.AdminKeySecretKey])})
	if err != nil {
		t.Fatal(err)
	}
	var key *agentclient.APIKey
	testwait.For(t, waitLimit, "a readwrite key", func() error {
		key, err = adm.CreateKey(ctx, f.tenant, "readwrite", "load")
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
	waitWrites := func(what string, n int) {
		t.Helper()
		before := w.count()
		testwait.For(t, waitLimit, what, func() error {
			if got := w.count(); got < before+n {
				return fmt.Errorf("%d acknowledged, %d before", got, before)
			}
			return nil
		})
	}
	waitWrites("writes acknowledged", 20)

	// One follower down.
	leader := ac.Status.Leader
	var victim string
	var others []string
	for i := range 3 {
		if p := controller.PodName(ac, i); p != leader && victim == "" {
			victim = p
		} else {
			others = append(others, p)
		}
	}
	kill(t, k, victim)
	msg := waitCondition(t, f, ac, aerov1.PhaseDegraded, aerov1.ConditionDegraded, metav1.ConditionTrue, controller.ReasonNodeNotReady)
	if !strings.HasPrefix(msg, victim+" not ready since ") {
		t.Errorf("Degraded message %q: want it to start %q", msg, victim+" not ready since ")
	}
	ready := apimeta.FindStatusCondition(ac.Status.Conditions, aerov1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != controller.ReasonQuorumAvailable || !strings.Contains(ready.Message, "2 of 3 voters ready") {
		t.Errorf("Ready while one node is down = %+v, want True (%s) saying 2 of 3 voters ready", ready, controller.ReasonQuorumAvailable)
	}
	t.Logf("degraded: %s", msg)
	// A majority serves: writes go on being acknowledged while the node
	// is down (podsim restarts it only after the kubelet's 10s back-off).
	waitWrites("writes acknowledged with a node down", 20)
	if _, running := k.PID(victim); running {
		t.Fatalf("%s restarted before the writes were checked; the check proves nothing", victim)
	}
	// The kubelet stand-in restarts the process; the node rejoins.
	waitRunning(t, f, ac, 3)
	if c := apimeta.FindStatusCondition(ac.Status.Conditions, aerov1.ConditionDegraded); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("Degraded after recovery = %+v, want False", c)
	}
	var pod corev1.Pod
	if err := f.c.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: victim}, &pod); err != nil {
		t.Fatal(err)
	}
	if cs := pod.Status.ContainerStatuses; len(cs) != 1 || cs[0].RestartCount != 1 || cs[0].LastTerminationState.Terminated == nil || cs[0].LastTerminationState.Terminated.ExitCode != 137 {
		t.Errorf("%s container status %+v: want 1 restart, last terminated with 137 (SIGKILL)", victim, cs)
	}
	if n := eventCount(t, f, ac, controller.ReasonNodeNotReady, victim); n < 1 || n > 2 {
		t.Errorf("%d NodeNotReady events naming %s, want 1 (one per transition, not per pass)", n, victim)
	}
	// The recorder sends events asynchronously.
	testwait.For(t, waitLimit, "1 Recovered event", func() error {
		if n := eventCount(t, f, ac, controller.ReasonRecovered, ""); n != 1 {
			return fmt.Errorf("%d Recovered events", n)
		}
		return nil
	})
	waitWrites("writes acknowledged after the recovery", 20)

	// The leader down: raft elects another among the two left while the
	// nodes, asked in turn, would name the lost leader, none, or the new
	// one. A majority is ready throughout: one election, one node not
	// ready, one recovery, and never QuorumLost.
	leader = ac.Status.Leader
	if leader == "" || leader == victim {
		t.Fatalf("leader %q after %s's recovery: want one of %v", leader, victim, others)
	}
	before := map[string]int32{}
	for _, r := range []string{controller.ReasonLeaderElection, controller.ReasonQuorumLost, controller.ReasonRecovered} {
		before[r] = eventCount(t, f, ac, r, "")
	}
	seen := watchReasons(t, f, ac)
	kill(t, k, leader)
	msg = waitCondition(t, f, ac, aerov1.PhaseDegraded, aerov1.ConditionDegraded, metav1.ConditionTrue, controller.ReasonNodeNotReady)
	if !strings.HasPrefix(msg, leader+" not ready since ") || ac.Status.Leader == "" || ac.Status.Leader == leader {
		t.Errorf("after the leader's loss: Degraded %q, leader %q; want %s named not ready and another leader", msg, ac.Status.Leader, leader)
	}
	t.Logf("leader %s lost, %s elected: %s", leader, ac.Status.Leader, msg)
	waitWrites("writes acknowledged by the new leader", 20)
	waitRunning(t, f, ac, 3)
	testwait.For(t, waitLimit, "the Recovered event", func() error {
		if n := eventCount(t, f, ac, controller.ReasonRecovered, ""); n != before[controller.ReasonRecovered]+1 {
			return fmt.Errorf("%d Recovered events, want %d", n, before[controller.ReasonRecovered]+1)
		}
		return nil
	})
	reasons := seen()
	t.Logf("Degraded reasons while the leader was down: %v", reasons)
	if slices.Contains(reasons, controller.ReasonQuorumLost) {
		t.Errorf("Degraded reasons %v: QuorumLost while a majority was ready", reasons)
	}
	if n := eventCount(t, f, ac, controller.ReasonQuorumLost, ""); n != before[controller.ReasonQuorumLost] {
		t.Errorf("%d QuorumLost events after the leader's loss, want none (a majority was ready)", n-before[controller.ReasonQuorumLost])
	}
	if n := eventCount(t, f, ac, controller.ReasonLeaderElection, "") - before[controller.ReasonLeaderElection]; n > 1 {
		t.Errorf("%d LeaderElection events for one election, want at most 1", n)
	}
	if n := eventCount(t, f, ac, controller.ReasonNodeNotReady, leader); n != 1 {
		t.Errorf("%d NodeNotReady events naming %s, want 1", n, leader)
	}
	for _, e := range allEvents(t, f, ac) {
		t.Logf("event %s %s ×%d: %s", e.Type, e.Reason, max(e.Count, 1), e.Message)
	}
	waitWrites("writes acknowledged after the leader's recovery", 20)

	// Two of three down: no majority, not Ready, until both are back.
	for _, p := range others {
		kill(t, k, p)
	}
	msg = waitCondition(t, f, ac, aerov1.PhaseDegraded, aerov1.ConditionReady, metav1.ConditionFalse, controller.ReasonQuorumLost)
	t.Logf("quorum lost: %s", msg)
	testwait.For(t, waitLimit, "a QuorumLost event", func() error {
		if n := eventCount(t, f, ac, controller.ReasonQuorumLost, "no majority"); n < 1 {
			return fmt.Errorf("%d QuorumLost events", n)
		}
		return nil
	})
	if c := apimeta.FindStatusCondition(ac.Status.Conditions, aerov1.ConditionDegraded); c == nil || c.Status != metav1.ConditionTrue || c.Reason != controller.ReasonQuorumLost {
		t.Errorf("Degraded without a majority = %+v, want True (%s)", c, controller.ReasonQuorumLost)
	}
	waitRunning(t, f, ac, 3)
	// The recorder sends events (and folds repeats) asynchronously.
	testwait.For(t, waitLimit, "3 Recovered events", func() error {
		if n := eventCount(t, f, ac, controller.ReasonRecovered, ""); n != 3 {
			return fmt.Errorf("%d Recovered events", n)
		}
		return nil
	})
	waitWrites("writes acknowledged after the second recovery", 20)
	wcancel()
	<-wdone

	// kubectl get: the API server's table (the CRD's printer columns).
	row := tableRow(t, f, ac)
	for col, want := range map[string]string{"Nodes": "3", "Ready": "3", "Voters": "3", "Phase": aerov1.PhaseRunning, "Serving": "True", "Reason": controller.ReasonAllNodesReady} {
		if got := row[col]; got != want {
			t.Errorf("kubectl get column %s = %q, want %q (row %v)", col, got, want, row)
		}
	}
	if !strings.Contains(row["Message"], "3 nodes ready") {
		t.Errorf("kubectl get -o wide column Message = %q, want it to say 3 nodes ready", row["Message"])
	}

	// No acknowledged write is lost.
	rc, err := agentclient.New(agentclient.Config{URL: strings.Join(urls, ","), Key: key.Key})
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for id, n := range w.acked {
		d, err := rc.Get(ctx, "load", id)
		var got struct{ N int }
		if err == nil {
			err = json.Unmarshal(d.Data, &got)
		}
		if err != nil || got.N != n {
			t.Errorf("acknowledged %s: %v, n %d, want %d", id, err, got.N, n)
			lost++
		}
	}
	t.Logf("%d writes acknowledged, %d failed (not acknowledged), %d lost", len(w.acked), w.failed, lost)
}

// tableRow is ac's row of `kubectl get aerolithclusters -o wide`, as the
// API server renders it from the CRD's printer columns, by column name.
func tableRow(t *testing.T, f *fixture, ac *aerov1.AerolithCluster) map[string]string {
	t.Helper()
	cfg := rest.CopyConfig(restCfg)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url := strings.TrimSuffix(cfg.Host, "/") + "/apis/aerolithdb.io/v1/namespaces/" + f.ns + "/aerolithclusters/" + ac.Name + "?includeObject=None"
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var table metav1.Table
	if err := json.NewDecoder(resp.Body).Decode(&table); err != nil || len(table.Rows) != 1 {
		t.Fatalf("table of %s (%s): %v, %d rows (status %s)", ac.Name, url, err, len(table.Rows), resp.Status)
	}
	row := map[string]string{}
	for i, c := range table.ColumnDefinitions {
		if i < len(table.Rows[0].Cells) {
			row[c.Name] = fmt.Sprint(table.Rows[0].Cells[i])
		}
	}
	return row
}
