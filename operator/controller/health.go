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
	// ReasonQuorumLost: no leader, or fewer than a majority of the voters
	// ready; the cluster does not serve writes.
	ReasonQuorumLost = "QuorumLost"
	// ReasonRecovered: the event of a Degraded cluster whose nodes are all
	// back.
	ReasonRecovered = "Recovered"
)

// health is the operator's verdict on a formed cluster's nodes: whether
// each of the replicas has a ready pod that raft counts as a voter, and
// whether a leader and a majority of the voters serve.
type health struct {
	// problems name the nodes that are not as they should be, one
	// sentence each ("aerolith-demo-2 not ready since …").
	problems []string
	// serving: a leader is known and a majority of the voters is ready.
	serving bool
	// readyVoters and voters count raft's voters and those whose pod is
	// ready.
	readyVoters, voters int
	reason              string
}

// assessHealth judges a formed cluster of replicas nodes from its pods and
// the membership a node answered (st nil: none answered, stErr says why).
// Messages depend only on what was observed, not on the time of the pass,
// so an unchanged cluster yields the same status and no status write.
func assessHealth(ac *aerov1.AerolithCluster, replicas int32, pods []corev1.Pod, st *agentclient.ClusterStatus, stErr error) health {
	byName := map[string]*corev1.Pod{}
	for i := range pods {
		byName[pods[i].Name] = &pods[i]
	}
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
	}
	h.problems = append(podIssues, voterIssues...)
	switch {
	case st == nil:
		why := "no node answered"
		if errors.Is(stErr, errNoReadyNode) {
			why = "no node is ready"
		}
		h.problems = append(h.problems, "no raft leader known ("+why+")")
	case st.LeaderID == "":
		h.problems = append(h.problems, "no raft leader")
	default:
		h.serving = h.voters > 0 && 2*h.readyVoters > h.voters
		if !h.serving {
			h.problems = append(h.problems, fmt.Sprintf("%d of %d voters ready, no majority", h.readyVoters, h.voters))
		}
	}
	switch {
	case !h.serving:
		h.reason = ReasonQuorumLost
	case len(podIssues) > 0:
		h.reason = ReasonNodeNotReady
	case len(voterIssues) > 0:
		h.reason = ReasonVoterMissing
	default:
		h.reason = ReasonAllNodesReady
	}
	return h
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
// the nodes named, Ready while a majority serves. An event marks each
// change of what is wrong (not each pass); a degraded cluster is looked at
// again every Poll, a healthy one every Resync, since an agent's health
// is no Kubernetes event. Blocked tenant removals (their own events) keep
// an otherwise healthy cluster Degraded with ReasonTenantRemovalBlocked.
func (r *Reconciler) settleHealth(ctx context.Context, ac *aerov1.AerolithCluster, replicas int32, h health, leader string, blocked []string) ctrl.Result {
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
			r.log.Info("cluster recovered", "cluster", key, "nodes", replicas, "leader", leader)
			statusEvent(ctx, corev1.EventTypeNormal, ReasonRecovered, "%s", msg)
		case ac.Status.Phase != aerov1.PhaseRunning:
			r.log.Info("cluster running", "cluster", key, "nodes", replicas, "leader", leader)
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
	// not when a node's detail does (its container restarting).
	changed := prev == nil || prev.Status != metav1.ConditionTrue || prev.Reason != h.reason || subjects(prev.Message) != subjects(msg)
	if changed && h.reason != ReasonTenantRemovalBlocked {
		r.log.Warn("cluster degraded", "cluster", key, "reason", h.reason, "problems", msg)
		statusEvent(ctx, corev1.EventTypeWarning, h.reason, "%s", msg)
	}
	ac.Status.Phase = aerov1.PhaseDegraded
	r.setCondition(ac, aerov1.ConditionDegraded, metav1.ConditionTrue, h.reason, msg)
	r.setCondition(ac, aerov1.ConditionProgressing, metav1.ConditionFalse, "Settled", "")
	if h.serving {
		r.setCondition(ac, aerov1.ConditionReady, metav1.ConditionTrue, ReasonQuorumAvailable,
			fmt.Sprintf("serving with %d of %d voters ready, leader %s; %s", h.readyVoters, h.voters, leader, msg))
	} else {
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

// statusEvents holds the events of a status transition until the status
// is written: a pass that read a stale copy of the object (the cache lags
// the pass's own last write) sees the transition again, but its write
// fails on the resource version, so its events must not go out.
type statusEvents struct {
	evs []pendingEvent
}

type pendingEvent struct{ typ, reason, msg string }

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
		se.evs = append(se.evs, pendingEvent{typ, reason, fmt.Sprintf(format, args...)})
	}
}

// flush sends the queued events on ac.
func (se *statusEvents) flush(r *Reconciler, ac *aerov1.AerolithCluster) {
	for _, e := range se.evs {
		r.event(ac, e.typ, e.reason, "%s", e.msg)
	}
	se.evs = nil
}
