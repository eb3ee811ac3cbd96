package controller

import (
	"context"
	"errors"
	"go/ast"
	"go/constant"
	"go/format"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"

	agentclient "github.com/aerolithdb/aerolith/agent/client"
	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
)

var since = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// testPod is pod db-<i> of testCluster, ready or not; a not-ready one
// waits in CrashLoopBackOff after a SIGKILL.
func testPod(name string, ready bool) corev1.Pod {
	st := corev1.ConditionTrue
	cs := corev1.ContainerStatus{Name: "aerolith", Ready: ready, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	if !ready {
		st = corev1.ConditionFalse
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
		cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Message: "signal: killed", ExitCode: 137}
		cs.RestartCount = 2
	}
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{
		Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: st, LastTransitionTime: metav1.NewTime(since)}},
		ContainerStatuses: []corev1.ContainerStatus{cs},
	}}
}

func membership(leader string, members ...agentclient.Member) *agentclient.ClusterStatus {
	return &agentclient.ClusterStatus{LeaderID: leader, Members: members}
}

func voter(id string) agentclient.Member { return agentclient.Member{ID: id, Voter: true} }

// prevStatus is a Degraded cluster's status whose Ready condition has
// status st and reason since the given time.
func prevStatus(st metav1.ConditionStatus, reason string, since time.Time) aerov1.AerolithClusterStatus {
	return aerov1.AerolithClusterStatus{Phase: aerov1.PhaseDegraded, Conditions: []metav1.Condition{
		{Type: aerov1.ConditionReady, Status: st, Reason: reason, LastTransitionTime: metav1.NewTime(since)},
	}}
}

func TestAssessHealth(t *testing.T) {
	now := since.Add(time.Hour)
	all := membership("db-0", voter("db-0"), voter("db-1"), voter("db-2"))
	leaderless := membership("", voter("db-0"), voter("db-1"), voter("db-2"))
	// db-2 led and was killed: a follower names it until its heartbeat
	// timeout, then none, then the leader it elected.
	stale := membership("db-2", voter("db-0"), voter("db-1"), voter("db-2"))
	up := []corev1.Pod{testPod("db-0", true), testPod("db-1", true), testPod("db-2", true)}
	oneDown := []corev1.Pod{testPod("db-0", true), testPod("db-1", true), testPod("db-2", false)}
	twoDown := []corev1.Pod{testPod("db-0", true), testPod("db-1", false), testPod("db-2", false)}
	running := aerov1.AerolithClusterStatus{Phase: aerov1.PhaseRunning, Conditions: []metav1.Condition{
		{Type: aerov1.ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonAllNodesReady, LastTransitionTime: metav1.NewTime(since)}}}
	electing := func(ago time.Duration) aerov1.AerolithClusterStatus {
		return prevStatus(metav1.ConditionUnknown, ReasonLeaderElection, now.Add(-ago))
	}
	tests := []struct {
		name     string
		prev     aerov1.AerolithClusterStatus
		pods     []corev1.Pod
		st       *agentclient.ClusterStatus
		stErr    error
		answered bool // the named leader, its pod not ready, answered that it leads
		reason   string
		serving  bool
		leader   string
		problems []string
	}{
		{"all ready", running, up, all, nil, false,
			ReasonAllNodesReady, true, "db-0", nil},
		{"one down", running, oneDown, all, nil, false,
			ReasonNodeNotReady, true, "db-0", []string{"db-2 not ready since 2026-01-02T15:04:05Z (CrashLoopBackOff, last exit signal: killed, 2 restarts)"}},
		{"one pod missing", running, []corev1.Pod{testPod("db-0", true), testPod("db-1", true)}, all, nil, false,
			ReasonNodeNotReady, true, "db-0", []string{"db-2 has no pod"}},
		{"two down, leader up", running, twoDown, all, nil, false,
			ReasonQuorumLost, false, "db-0", []string{"db-1 not ready", "db-2 not ready", "1 of 3 voters ready, no majority"}},
		{"two down, no leader", running, twoDown, leaderless, nil, false,
			ReasonQuorumLost, false, "", []string{"db-1 not ready", "db-2 not ready", "1 of 3 voters ready, no majority"}},
		{"two down during an election", electing(time.Second), twoDown, leaderless, nil, false,
			ReasonQuorumLost, false, "", []string{"db-1 not ready", "db-2 not ready", "1 of 3 voters ready, no majority"}},
		{"nobody answers", running, []corev1.Pod{testPod("db-0", false), testPod("db-1", false), testPod("db-2", false)}, nil, errNoReadyNode, false,
			ReasonQuorumLost, false, "", []string{"db-0 not ready", "db-1 not ready", "db-2 not ready", "no raft leader known (no node is ready)"}},
		{"membership error", running, up, nil, errors.New("timeout"), false,
			ReasonQuorumLost, false, "", []string{"no raft leader known (no node answered)"}},
		{"not a voter", running, up, membership("db-0", voter("db-0"), voter("db-1"), agentclient.Member{ID: "db-2"}), nil, false,
			ReasonVoterMissing, true, "db-0", []string{"db-2 is not a raft voter"}},
		{"voter without a pod", running, up, membership("db-0", voter("db-0"), voter("db-1"), voter("db-2"), voter("db-3"), voter("db-4")), nil, false,
			ReasonVoterMissing, true, "db-0", []string{"raft voter db-3 has no pod", "raft voter db-4 has no pod"}},

		// The leader's agent is lost with a majority ready: an election,
		// whichever node answers and whatever it says, until one is known.
		{"leader lost, a follower still names it", running, oneDown, stale, nil, false,
			ReasonLeaderElection, false, "", []string{"db-2 not ready", "raft leader db-2 lost: electing a new one (2 of 3 voters ready, QuorumLost if none within 10s)"}},
		{"leader lost, its pod not yet marked", running, up, leaderless, nil, false,
			ReasonLeaderElection, false, "", []string{"no raft leader: electing one (3 of 3 voters ready"}},
		{"leader lost, candidates", electing(time.Second), oneDown, leaderless, nil, false,
			ReasonLeaderElection, false, "", []string{"db-2 not ready", "no raft leader: electing one (2 of 3 voters ready"}},
		{"leader elected", electing(2 * time.Second), oneDown, membership("db-1", voter("db-0"), voter("db-1"), voter("db-2")), nil, false,
			ReasonNodeNotReady, true, "db-1", []string{"db-2 not ready"}},
		{"leader's pod not ready but it leads", running, oneDown, stale, nil, true,
			ReasonNodeNotReady, true, "db-2", []string{"db-2 not ready"}},
		{"leader without a pod", running, []corev1.Pod{testPod("db-0", true), testPod("db-1", true)}, stale, nil, false,
			ReasonLeaderElection, false, "", []string{"db-2 has no pod", "raft leader db-2 lost: electing a new one"}},
		{"election within the bound", electing(ElectionBound), oneDown, leaderless, nil, false,
			ReasonLeaderElection, false, "", []string{"db-2 not ready", "no raft leader: electing one"}},
		{"election past the bound", electing(ElectionBound + time.Second), oneDown, leaderless, nil, false,
			ReasonQuorumLost, false, "", []string{"db-2 not ready", "no raft leader elected though 2 of 3 voters are ready"}},
		{"quorum lost holds until a leader is known", prevStatus(metav1.ConditionFalse, ReasonQuorumLost, now.Add(-time.Second)), oneDown, stale, nil, false,
			ReasonQuorumLost, false, "", []string{"db-2 not ready", "no raft leader elected though 2 of 3 voters are ready"}},
		{"quorum lost ends with a leader", prevStatus(metav1.ConditionFalse, ReasonQuorumLost, now.Add(-time.Second)), oneDown, all, nil, false,
			ReasonNodeNotReady, true, "db-0", []string{"db-2 not ready"}},
		{"an old election of a running cluster", aerov1.AerolithClusterStatus{Phase: aerov1.PhaseRunning, Conditions: electing(time.Hour).Conditions}, up, leaderless, nil, false,
			ReasonLeaderElection, false, "", []string{"no raft leader: electing one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ac := testCluster(aerov1.TLSDisabled)
			ac.Status = tt.prev
			h := assessHealth(ac, 3, observation{pods: tt.pods, st: tt.st, err: tt.stErr, leaderAnswered: tt.answered, now: now})
			if h.reason != tt.reason || h.serving != tt.serving || h.leader != tt.leader {
				t.Errorf("assessHealth = reason %s serving %t leader %q, want %s %t %q (problems %q)", h.reason, h.serving, h.leader, tt.reason, tt.serving, tt.leader, h.problems)
			}
			if len(h.problems) != len(tt.problems) {
				t.Fatalf("problems = %q, want %d starting %q", h.problems, len(tt.problems), tt.problems)
			}
			for i, want := range tt.problems {
				if !strings.HasPrefix(h.problems[i], want) {
					t.Errorf("problem %d = %q, want it to start %q", i, h.problems[i], want)
				}
			}
		})
	}
}

// pass is one observation of db's health as Reconcile makes it: the
// health assessed, the status settled, its events sent.
type pass struct {
	pods   []corev1.Pod
	st     *agentclient.ClusterStatus
	after  time.Duration // since the first pass
	reason string        // of the Degraded condition ("" : Running)
	ready  metav1.ConditionStatus
}

// TestHealthEvents plays the passes of a leader's loss, as nodes answer
// while raft elects the next, and checks that the events tell what
// happened: one election, one node not ready, one recovery; an election
// past ElectionBound, and a lost majority, are QuorumLost.
func TestHealthEvents(t *testing.T) {
	members := func(leader string) *agentclient.ClusterStatus {
		return membership(leader, voter("db-0"), voter("db-1"), voter("db-2"))
	}
	up := []corev1.Pod{testPod("db-0", true), testPod("db-1", true), testPod("db-2", true)}
	oneDown := []corev1.Pod{testPod("db-0", true), testPod("db-1", true), testPod("db-2", false)}
	twoDown := []corev1.Pod{testPod("db-0", true), testPod("db-1", false), testPod("db-2", false)}
	tests := []struct {
		name   string
		passes []pass
		events []string
	}{
		{"leader lost", []pass{
			{up, members("db-2"), 0, "", metav1.ConditionTrue},
			// db-2 is killed; its pod not yet marked, db-0 a candidate.
			{up, members(""), time.Second, ReasonLeaderElection, metav1.ConditionUnknown},
			// db-1 answers (db-0 was slow): it still names db-2.
			{oneDown, members("db-2"), 1500 * time.Millisecond, ReasonLeaderElection, metav1.ConditionUnknown},
			{oneDown, members(""), 2 * time.Second, ReasonLeaderElection, metav1.ConditionUnknown},
			{oneDown, members("db-1"), 3 * time.Second, ReasonNodeNotReady, metav1.ConditionTrue},
			{oneDown, members("db-1"), 4 * time.Second, ReasonNodeNotReady, metav1.ConditionTrue},
			{up, members("db-1"), 15 * time.Second, "", metav1.ConditionTrue},
		}, []string{"Warning LeaderElection", "Warning NodeNotReady", "Normal Recovered"}},
		{"follower lost", []pass{
			{up, members("db-0"), 0, "", metav1.ConditionTrue},
			{oneDown, members("db-0"), time.Second, ReasonNodeNotReady, metav1.ConditionTrue},
			{up, members("db-0"), 15 * time.Second, "", metav1.ConditionTrue},
		}, []string{"Warning NodeNotReady", "Normal Recovered"}},
		{"no leader elected", []pass{
			{up, members("db-0"), 0, "", metav1.ConditionTrue},
			{oneDown, members(""), time.Second, ReasonLeaderElection, metav1.ConditionUnknown},
			{oneDown, members(""), time.Second + ElectionBound/2, ReasonLeaderElection, metav1.ConditionUnknown},
			{oneDown, members(""), 2*time.Second + ElectionBound, ReasonQuorumLost, metav1.ConditionFalse},
			{oneDown, members(""), 3*time.Second + 2*ElectionBound, ReasonQuorumLost, metav1.ConditionFalse},
			{oneDown, members("db-1"), 4*time.Second + 2*ElectionBound, ReasonNodeNotReady, metav1.ConditionTrue},
		}, []string{"Warning LeaderElection", "Warning QuorumLost", "Warning NodeNotReady"}},
		{"two of three lost", []pass{
			{up, members("db-0"), 0, "", metav1.ConditionTrue},
			{twoDown, members("db-0"), time.Second, ReasonQuorumLost, metav1.ConditionFalse},
			{twoDown, members(""), 2 * time.Second, ReasonQuorumLost, metav1.ConditionFalse},
			{oneDown, members(""), 12 * time.Second, ReasonQuorumLost, metav1.ConditionFalse},
			{oneDown, members("db-1"), 13 * time.Second, ReasonNodeNotReady, metav1.ConditionTrue},
			{up, members("db-1"), 20 * time.Second, "", metav1.ConditionTrue},
		}, []string{"Warning QuorumLost", "Warning QuorumLost", "Warning NodeNotReady", "Normal Recovered"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := record.NewFakeRecorder(100)
			r := New(Config{Recorder: rec, Log: slog.New(slog.DiscardHandler)})
			ac := testCluster(aerov1.TLSDisabled)
			ac.Status.Phase = aerov1.PhaseRunning
			start := time.Now()
			var got []string
			for i, p := range tt.passes {
				ctx, se := withStatusEvents(context.Background())
				h := assessHealth(ac, 3, observation{pods: p.pods, st: p.st, now: start.Add(p.after)})
				ac.Status.Leader = h.leader
				before := map[string]metav1.Time{}
				for _, c := range ac.Status.Conditions {
					before[c.Type] = c.LastTransitionTime
				}
				r.settleHealth(ctx, ac, 3, h, nil)
				// A transition is stamped with the pass's time, not the
				// test's.
				for j := range ac.Status.Conditions {
					if c := &ac.Status.Conditions[j]; !c.LastTransitionTime.Time.Equal(before[c.Type].Time) {
						c.LastTransitionTime = metav1.NewTime(start.Add(p.after))
					}
				}
				se.flush(r, ac)
				for len(rec.Events) > 0 {
					e := <-rec.Events
					got = append(got, strings.Join(strings.Fields(e)[:2], " "))
				}
				deg := apimeta.FindStatusCondition(ac.Status.Conditions, aerov1.ConditionDegraded)
				ready := apimeta.FindStatusCondition(ac.Status.Conditions, aerov1.ConditionReady)
				reason := ""
				if deg.Status == metav1.ConditionTrue {
					reason = deg.Reason
				}
				if reason != p.reason || ready.Status != p.ready {
					t.Errorf("pass %d (+%v): Degraded %s %q, Ready %s, want Degraded reason %q, Ready %s (%s)", i, p.after, deg.Status, deg.Reason, ready.Status, p.reason, p.ready, deg.Message)
				}
			}
			if !slices.Equal(got, tt.events) {
				t.Errorf("events %q, want %q", got, tt.events)
			}
		})
	}
}

// The events follow what is wrong, not the detail of a node's state.
func TestSubjects(t *testing.T) {
	a := "db-2 not ready since 2026-01-02T15:04:05Z (CrashLoopBackOff, last exit signal: killed)"
	b := "db-2 not ready since 2026-01-02T15:04:05Z (running, readiness probe failing, 1 restarts)"
	c := "db-1 not ready since 2026-01-02T15:04:05Z (CrashLoopBackOff); " + a
	if subjects(a) != subjects(b) {
		t.Errorf("subjects(%q) = %q, subjects(%q) = %q: want equal", a, subjects(a), b, subjects(b))
	}
	if subjects(a) == subjects(c) {
		t.Errorf("subjects of one and two nodes are both %q", subjects(a))
	}
}

func TestDroppedTenants(t *testing.T) {
	ac := testCluster(aerov1.TLSDisabled)
	ac.Spec.Tenants = []string{"ten_2", "ten_3"}
	// ten_1 is the primary tenant: never dropped.
	got := droppedTenants(ac, []string{"ten_4", "ten_1", "ten_3", "ten_0"})
	if want := []string{"ten_0", "ten_4"}; !slices.Equal(got, want) {
		t.Errorf("droppedTenants = %v, want %v", got, want)
	}
}

// ElectionBound is derived from the raft timeouts the agents run with,
// the store's defaults (the operator sets none): read them from the
// store's source, which the operator module builds the agent from.
func TestElectionBoundFollowsTheStore(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "..", "store", "config.go"), nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	// The two constants alone, type-checked with the time package.
	exprs := map[string]ast.Expr{}
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			for i, id := range vs.Names {
				if (id.Name == "DefaultHeartbeatTimeout" || id.Name == "DefaultElectionTimeout") && i < len(vs.Values) {
					exprs[id.Name] = vs.Values[i]
				}
			}
		}
		return true
	})
	src := "package p\nimport \"time\"\nvar _ = time.Second\n"
	for name, e := range exprs {
		var b strings.Builder
		if err := format.Node(&b, fset, e); err != nil {
			t.Fatal(err)
		}
		src += "const " + name + " = " + b.String() + "\n"
	}
	g, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	pkg, err := conf.Check("p", fset, []*ast.File{g}, nil)
	if err != nil {
		t.Fatalf("store's raft timeouts (%q): %v", src, err)
	}
	value := func(name string) time.Duration {
		c, ok := pkg.Scope().Lookup(name).(*types.Const)
		if !ok {
			t.Fatalf("store/config.go has no constant %s", name)
		}
		n, _ := constant.Int64Val(c.Val())
		return time.Duration(n)
	}
	heartbeat, election := value("DefaultHeartbeatTimeout"), value("DefaultElectionTimeout")
	if want := 2*heartbeat + 4*2*election; ElectionBound != want {
		t.Errorf("ElectionBound = %v, want 2×HeartbeatTimeout + 4 rounds of 2×ElectionTimeout = %v (store defaults %v, %v)", ElectionBound, want, heartbeat, election)
	}
}
