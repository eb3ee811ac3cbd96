package controller

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

func TestAssessHealth(t *testing.T) {
	ac := testCluster(aerov1.TLSDisabled)
	all := membership("db-0", voter("db-0"), voter("db-1"), voter("db-2"))
	tests := []struct {
		name     string
		pods     []corev1.Pod
		st       *agentclient.ClusterStatus
		stErr    error
		reason   string
		serving  bool
		problems []string
	}{
		{"all ready", []corev1.Pod{testPod("db-0", true), testPod("db-1", true), testPod("db-2", true)}, all, nil,
			ReasonAllNodesReady, true, nil},
		{"one down", []corev1.Pod{testPod("db-0", true), testPod("db-1", true), testPod("db-2", false)}, all, nil,
			ReasonNodeNotReady, true, []string{"db-2 not ready since 2026-01-02T15:04:05Z (CrashLoopBackOff, last exit signal: killed, 2 restarts)"}},
		{"one pod missing", []corev1.Pod{testPod("db-0", true), testPod("db-1", true)}, all, nil,
			ReasonNodeNotReady, true, []string{"db-2 has no pod"}},
		{"two down, stale leader", []corev1.Pod{testPod("db-0", true), testPod("db-1", false), testPod("db-2", false)}, all, nil,
			ReasonQuorumLost, false, []string{"db-1 not ready", "db-2 not ready", "1 of 3 voters ready, no majority"}},
		{"no leader", []corev1.Pod{testPod("db-0", true), testPod("db-1", true), testPod("db-2", true)}, membership("", voter("db-0"), voter("db-1"), voter("db-2")), nil,
			ReasonQuorumLost, false, []string{"no raft leader"}},
		{"nobody answers", []corev1.Pod{testPod("db-0", false), testPod("db-1", false), testPod("db-2", false)}, nil, errNoReadyNode,
			ReasonQuorumLost, false, []string{"db-0 not ready", "db-1 not ready", "db-2 not ready", "no raft leader known (no node is ready)"}},
		{"membership error", []corev1.Pod{testPod("db-0", true), testPod("db-1", true), testPod("db-2", true)}, nil, errors.New("timeout"),
			ReasonQuorumLost, false, []string{"no raft leader known (no node answered)"}},
		{"not a voter", []corev1.Pod{testPod("db-0", true), testPod("db-1", true), testPod("db-2", true)},
			membership("db-0", voter("db-0"), voter("db-1"), agentclient.Member{ID: "db-2"}), nil,
			ReasonVoterMissing, true, []string{"db-2 is not a raft voter"}},
		{"voter without a pod", []corev1.Pod{testPod("db-0", true), testPod("db-1", true), testPod("db-2", true)},
			membership("db-0", voter("db-0"), voter("db-1"), voter("db-2"), voter("db-3"), voter("db-4")), nil,
			ReasonVoterMissing, true, []string{"raft voter db-3 has no pod", "raft voter db-4 has no pod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := assessHealth(ac, 3, tt.pods, tt.st, tt.stErr)
			if h.reason != tt.reason || h.serving != tt.serving {
				t.Errorf("assessHealth = reason %s serving %t, want %s %t (problems %q)", h.reason, h.serving, tt.reason, tt.serving, h.problems)
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
