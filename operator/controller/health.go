package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	agentclient "github.com/aerolithdb/aerolith/agent/client"
	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
)

// Reasons of the Degraded and Ready conditions of a formed cluster.
const (
	// ReasonAllNodesReady: every node ready and a raft voter, a leader.
	ReasonAllNodesReady = "AllNodesReady"
	// ReasonNodeNotReady: a node's pod is missing or not ready; a
	// majority of the voters still serves.
	ReasonNodeNotReady = "NodeNotReady"
	// ReasonVoterMissing: every pod is ready but raft's voters are not
	// the cluster's pods (a node is not a voter, or a voter has no pod).
	ReasonVoterMissing = "VoterMissing"
	// ReasonQuorumAvailable: Ready while degraded, a majority serves.
	ReasonQuorumAvailable = "QuorumAvailable"
	// ReasonLeaderElection: a majority of the voters is ready but no
	// leader is known (the leader was lost and raft is electing the next);
	// Ready is Unknown: writes wait for the election, which raft settles
	// well within ElectionBound.
	ReasonLeaderElection = "LeaderElection"
	// ReasonQuorumLost: fewer than a majority of the voters ready, or no
	// leader elected within ElectionBound; the cluster does not serve
	// writes.
	ReasonQuorumLost = "QuorumLost"
	// ReasonRecovered: the event of a Degraded cluster whose nodes are all
	// back.
	ReasonRecovered = "Recovered"
)

// ElectionBound is how long a majority of ready voters may go without a
// known leader (reason LeaderElection) before the cluster is QuorumLost.
// The agents run with the store's default raft timeouts (the operator
// sets none): a follower notices a lost leader within twice
// HeartbeatTimeout, and an election round lasts at most twice
// ElectionTimeout; the bound allows four rounds (split votes) on top,
// 2×1s + 4×2×1s (health_internal_test.go checks it against the store's
// defaults).
const ElectionBound = 10 * time.Second

// health is the operator's verdict on a formed cluster's nodes: whether
// each of the replicas has a ready pod that raft counts as a voter, and
// whether a leader and a majority of the voters serve.
type health struct {
	// problems name the nodes that are not as they should be, one
	// sentence each ("aerolith-demo-2 not ready since …").
	problems []string
	// serving: a leader is known and a majority of the voters is ready.
	serving bool
	// leader is the raft leader known to serve, "" while there is none.
	leader string
	// readyVoters and voters count raft's voters and those whose pod is
	// ready.
	readyVoters, voters int
	reason              string
}

// observation is what one pass saw of a formed cluster.
type observation struct {
	pods []corev1.Pod
	// st is the membership a ready node answered; nil when none did,
	// err says why.
	st  *agentclient.ClusterStatus
	err error
	// leaderAnswered: the leader st names has a pod that is not ready,
	// and its agent answered itself that it leads (Reconciler.leads).
	leaderAnswered bool
	now            time.Time
}

// assessHealth judges a formed cluster of replicas nodes from what a pass
// observed and the status of the passes before (ac's Ready condition:
// when an election began). The leader a node names counts only if its
// pod is ready or it answered itself that it leads: a follower goes on
// naming a lost leader until its heartbeat timeout. A majority of ready
// voters without a leader is a LeaderElection, until ElectionBound after
// the Ready condition turned Unknown for it; then, and whenever fewer
// than a majority is ready, QuorumLost, which holds until a leader is
// known again (so a pass after the bound does not start a new
// election). Messages depend only on what was observed, not on the time
// of the pass, so an unchanged cluster yields the same status and no
// status write.
func assessHealth(ac *aerov1.AerolithCluster, replicas int32, o observation) health {
	byName := map[string]*corev1.Pod{}
	for i := range o.pods {
		byName[o.pods[i].Name] = &o.pods[i]
	}
	st := o.st
	var h health
	ready := map[string]bool{}
	var podIssues, voterIssues []string
	for i := range int(replicas) {
		name := PodName(ac, i)
		p := byName[name]
		switch {
		case p == nil:
			podIssues = append(podIssues, name+" has no pod")
		case p.DeletionTimestamp != nil:
			podIssues = append(podIssues, name+" is being deleted")
		case !podReady(p):
			podIssues = append(podIssues, name+" not ready"+podDetail(p))
		default:
			ready[name] = true
		}
		if st == nil {
			continue
		}
		switch m, ok := member(st, name); {
		case !ok:
			voterIssues = append(voterIssues, name+" is not a raft member")
		case !m.Voter:
			voterIssues = append(voterIssues, name+" is not a raft voter")
		}
	}
	if st != nil {
		for _, m := range st.Members {
			if !m.Voter {
				continue
			}
			h.voters++
			if ready[m.ID] {
				h.readyVoters++
			}
			if !isOrdinal(ac, m.ID, replicas) {
				voterIssues = append(voterIssues, "raft voter "+m.ID+" has no pod")
			}
		}
		if l := st.LeaderID; l != "" {
			if p := byName[l]; o.leaderAnswered || (p != nil && p.DeletionTimestamp == nil && podReady(p)) {
				h.leader = l
			}
		}
	}
	h.problems = append(podIssues, voterIssues...)
	majority := h.voters > 0 && 2*h.readyVoters > h.voters
	switch {
	case st == nil:
		why := "no node answered"
		if errors.Is(o.err, errNoReadyNode) {
			why = "no node is ready"
		}
		h.problems = append(h.problems, "no raft leader known ("+why+")")
		h.reason = ReasonQuorumLost
		return h
	case !majority:
		// Whether a leader is still named is beside the point (and
		// changes as raft notices): it cannot commit.
		h.problems = append(h.problems, fmt.Sprintf("%d of %d voters ready, no majority", h.readyVoters, h.voters))
		h.reason = ReasonQuorumLost
		return h
	case h.leader == "":
		if electionOverdue(ac, o.now) {
			h.problems = append(h.problems, fmt.Sprintf("no raft leader elected though %d of %d voters are ready", h.readyVoters, h.voters))
			h.reason = ReasonQuorumLost
			return h
		}
		what := "no raft leader: electing one"
		if st.LeaderID != "" {
			what = "raft leader " + st.LeaderID + " lost: electing a new one"
		}
		h.problems = append(h.problems, fmt.Sprintf("%s (%d of %d voters ready, QuorumLost if none within %v)", what, h.readyVoters, h.voters, ElectionBound))
		h.reason = ReasonLeaderElection
		return h
	}
	h.serving = true
	switch {
	case len(podIssues) > 0:
		h.reason = ReasonNodeNotReady
	case len(voterIssues) > 0:
		h.reason = ReasonVoterMissing
	default:
		h.reason = ReasonAllNodesReady
	}
	return h
}

// electionOverdue reports whether a cluster with a majority of ready
// voters and no leader is past its election: it was QuorumLost already
// (which holds until a leader is known), or its Ready condition has been
// Unknown for LeaderElection longer than ElectionBound. The condition's
// lastTransitionTime keeps when the election began, across passes and
// operator restarts.
func electionOverdue(ac *aerov1.AerolithCluster, now time.Time) bool {
	c := apimeta.FindStatusCondition(ac.Status.Conditions, aerov1.ConditionReady)
	switch {
	case c == nil || ac.Status.Phase != aerov1.PhaseDegraded:
		return false
	case c.Reason == ReasonQuorumLost:
		return true
	case c.Status == metav1.ConditionUnknown && c.Reason == ReasonLeaderElection:
		return now.Sub(c.LastTransitionTime.Time) > ElectionBound
	}
	return false
}

// podDetail says since when p is not ready and what its container does,
// e.g. " since 2026-01-02T15:04:05Z (CrashLoopBackOff, last exit signal:
// killed, 1 restart)".
func podDetail(p *corev1.Pod) string {
	var b strings.Builder
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && !c.LastTransitionTime.IsZero() {
			b.WriteString(" since " + c.LastTransitionTime.UTC().Format(time.RFC3339))
		}
	}
	if len(p.Status.ContainerStatuses) == 0 {
		return b.String()
	}
	cs := p.Status.ContainerStatuses[0]
	var parts []string
	switch {
	case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
		parts = append(parts, cs.State.Waiting.Reason)
	case cs.State.Terminated != nil:
		parts = append(parts, "exited "+cs.State.Terminated.Reason)
	case cs.State.Running != nil:
		parts = append(parts, "running, readiness probe failing")
	}
	if t := cs.LastTerminationState.Terminated; t != nil && t.Message != "" {
		parts = append(parts, "last exit "+t.Message)
	}
	if cs.RestartCount > 0 {
		parts = append(parts, fmt.Sprintf("%d restarts", cs.RestartCount))
	}
	if len(parts) > 0 {
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	return b.String()
}

// isOrdinal reports whether id is the pod name of one of the first n
// ordinals of ac.
func isOrdinal(ac *aerov1.AerolithCluster, id string, n int32) bool {
	for i := range int(n) {
		if PodName(ac, i) == id {
			return true
		}
	}
	return false
}

// settleHealth sets the status of a formed cluster (phase Running or
// Degraded) from h: Running with every condition quiet, or Degraded with
// the nodes named, Ready while a majority serves (Unknown during a leader
// election, False without a quorum). An event marks each
// change of what is wrong (not each pass); a degraded cluster is looked at
// again every Poll, a healthy one every Resync, since an agent's health
// is no Kubernetes event. Blocked tenant removals (their own events) keep
// an otherwise healthy cluster Degraded with ReasonTenantRemovalBlocked.
func (r *Reconciler) settleHealth(ctx context.Context, ac *aerov1.AerolithCluster, replicas int32, h health, blocked []string) ctrl.Result {
	leader := h.leader
	prev := apimeta.FindStatusCondition(ac.Status.Conditions, aerov1.ConditionDegraded)
	wasDegraded := ac.Status.Phase == aerov1.PhaseDegraded || (prev != nil && prev.Status == metav1.ConditionTrue)
	key := ac.Namespace + "/" + ac.Name
	if len(blocked) > 0 {
		if h.reason == ReasonAllNodesReady {
			h.reason = ReasonTenantRemovalBlocked
		}
		h.problems = append(h.problems, blocked...)
	}
	if h.reason == ReasonAllNodesReady {
		msg := fmt.Sprintf("%d nodes ready, all voters, leader %s", replicas, leader)
		switch {
		case wasDegraded:
			statusLog(ctx, func() { r.log.Info("cluster recovered", "cluster", key, "nodes", replicas, "leader", leader) })
			statusEvent(ctx, corev1.EventTypeNormal, ReasonRecovered, "%s", msg)
		case ac.Status.Phase != aerov1.PhaseRunning:
			statusLog(ctx, func() { r.log.Info("cluster running", "cluster", key, "nodes", replicas, "leader", leader) })
			statusEvent(ctx, corev1.EventTypeNormal, "Running", "%s", msg)
		}
		ac.Status.Phase = aerov1.PhaseRunning
		r.setCondition(ac, aerov1.ConditionReady, metav1.ConditionTrue, ReasonAllNodesReady, msg)
		r.setCondition(ac, aerov1.ConditionProgressing, metav1.ConditionFalse, "Settled", "")
		r.setCondition(ac, aerov1.ConditionDegraded, metav1.ConditionFalse, ReasonAllNodesReady, "")
		return ctrl.Result{RequeueAfter: r.cfg.Resync}
	}
	msg := strings.Join(h.problems, "; ")
	// An event when what is wrong changes (the reason, or which nodes),
	// not when a node's detail does (its container restarting). An
	// election has one event whatever raft's nodes say meanwhile (the
	// lost leader, then none) and whichever pods the kubelet marks not
	// ready as it notices; the next event says how it ended.
	changed := prev == nil || prev.Status != metav1.ConditionTrue || prev.Reason != h.reason ||
		(h.reason != ReasonLeaderElection && subjects(prev.Message) != subjects(msg))
	if changed && h.reason != ReasonTenantRemovalBlocked {
		statusLog(ctx, func() { r.log.Warn("cluster degraded", "cluster", key, "reason", h.reason, "problems", msg) })
		statusEvent(ctx, corev1.EventTypeWarning, h.reason, "%s", msg)
	}
	ac.Status.Phase = aerov1.PhaseDegraded
	r.setCondition(ac, aerov1.ConditionDegraded, metav1.ConditionTrue, h.reason, msg)
	r.setCondition(ac, aerov1.ConditionProgressing, metav1.ConditionFalse, "Settled", "")
	switch {
	case h.serving:
		r.setCondition(ac, aerov1.ConditionReady, metav1.ConditionTrue, ReasonQuorumAvailable,
			fmt.Sprintf("serving with %d of %d voters ready, leader %s; %s", h.readyVoters, h.voters, leader, msg))
	case h.reason == ReasonLeaderElection:
		// Unknown, not False: a majority is ready and raft elects a
		// leader within ElectionBound (writes wait for it meanwhile);
		// the transition's time is when the election began.
		r.setCondition(ac, aerov1.ConditionReady, metav1.ConditionUnknown, ReasonLeaderElection, "writes wait for a leader: "+msg)
	default:
		r.setCondition(ac, aerov1.ConditionReady, metav1.ConditionFalse, ReasonQuorumLost, "not serving: "+msg)
	}
	return ctrl.Result{RequeueAfter: r.cfg.Poll}
}

// subjects are the first words of a Degraded message's problems: the
// nodes (or tenants, or "no") they are about.
func subjects(msg string) string {
	var out []string
	for _, p := range strings.Split(msg, "; ") {
		w, _, _ := strings.Cut(p, " ")
		if w == "tenant" {
			w = p
		}
		out = append(out, w)
	}
	return strings.Join(out, ",")
}

// statusEvents holds the events of a status transition, and their log
// lines, until the status is written: a pass that read a stale copy of
// the object (the cache lags the pass's own last write) sees the
// transition again, but its write fails on the resource version, so its
// events must not go out, nor be logged.
type statusEvents struct {
	evs []pendingEvent
}

// pendingEvent is an event, or a log line (log set).
type pendingEvent struct {
	typ, reason, msg string
	log              func()
}

type statusEventsKey struct{}

// withStatusEvents returns ctx carrying a buffer for statusEvent.
func withStatusEvents(ctx context.Context) (context.Context, *statusEvents) {
	se := &statusEvents{}
	return context.WithValue(ctx, statusEventsKey{}, se), se
}

// statusEvent queues an event of the status change being made; Reconcile
// sends it once the status is written.
func statusEvent(ctx context.Context, typ, reason, format string, args ...any) {
	if se, ok := ctx.Value(statusEventsKey{}).(*statusEvents); ok {
		se.evs = append(se.evs, pendingEvent{typ: typ, reason: reason, msg: fmt.Sprintf(format, args...)})
	}
}

// statusLog queues the log line of the status change being made (log);
// Reconcile writes it once the status is written.
func statusLog(ctx context.Context, log func()) {
	if se, ok := ctx.Value(statusEventsKey{}).(*statusEvents); ok {
		se.evs = append(se.evs, pendingEvent{log: log})
	}
}

// flush sends the queued events on ac.
func (se *statusEvents) flush(r *Reconciler, ac *aerov1.AerolithCluster) {
	for _, e := range se.evs {
		if e.log != nil {
			e.log()
			continue
		}
		r.event(ac, e.typ, e.reason, "%s", e.msg)
	}
	se.evs = nil
}
