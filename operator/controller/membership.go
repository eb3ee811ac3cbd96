package controller

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	agentclient "github.com/aerolithdb/aerolith/agent/client"
	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
)

// errNoReadyNode is membership asked of a cluster none of whose pods is
// ready: nobody to ask.
var errNoReadyNode = errors.New("no ready node to ask for the membership")

// DefaultNodeURL is the base URL of a pod's data API inside the cluster:
// its stable DNS name from the headless Service.
func DefaultNodeURL(ac *aerov1.AerolithCluster, pod *corev1.Pod) string {
	return scheme(ac) + "://" + pod.Name + "." + HeadlessServiceName(ac) + "." + ac.Namespace + ".svc:" + fmt.Sprint(HTTPPort)
}

// nodeClient is an admin client of ac's agents through the ready ones of
// pods. They are asked in a fixed order, the leader the status names
// first, then by ordinal, so that consecutive passes hear the same node
// (the client fails over to the next only when one does not answer):
// during an election, nodes that are asked in turn answer differently
// (one still names the lost leader, one none, one the new one), and the
// status would follow whichever answered.
func (r *Reconciler) nodeClient(ctx context.Context, ac *aerov1.AerolithCluster, pods []corev1.Pod) (*agentclient.Client, error) {
	var ready []*corev1.Pod
	for i := range pods {
		if podReady(&pods[i]) && pods[i].DeletionTimestamp == nil {
			ready = append(ready, &pods[i])
		}
	}
	if len(ready) == 0 {
		return nil, errNoReadyNode
	}
	slices.SortFunc(ready, func(a, b *corev1.Pod) int {
		if la, lb := a.Name == ac.Status.Leader, b.Name == ac.Status.Leader; la != lb {
			if la {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(ordinal(ac, a.Name), ordinal(ac, b.Name)), strings.Compare(a.Name, b.Name))
	})
	urls := make([]string, len(ready))
	for i, p := range ready {
		urls[i] = r.cfg.NodeURL(ac, p)
	}
	return r.adminClient(ctx, ac, agentclient.Config{URL: strings.Join(urls, ","),
		Timeout: 10 * time.Second, MaxRetries: 2, ConnectTimeout: 2 * time.Second})
}

// adminClient completes cfg (URL and timeouts set) with the cluster admin
// key and, over HTTPS, the cluster CA.
func (r *Reconciler) adminClient(ctx context.Context, ac *aerov1.AerolithCluster, cfg agentclient.Config) (*agentclient.Client, error) {
	key, err := r.secretValue(ctx, ac.Namespace, AdminSecretName(ac), AdminKeySecretKey)
	if err != nil {
		return nil, err
	}
	cfg.Key, cfg.UserAgent = key, "aerolith-operator"
	if scheme(ac) == "https" {
		pool, err := r.clusterCA(ctx, ac)
		if err != nil {
			return nil, err
		}
		cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return agentclient.New(cfg)
}

// leads reports whether the agent of pod p, whose pod is not ready,
// answers that it is raft's leader. A follower goes on naming a lost
// leader until its heartbeat timeout, so a leader whose pod is not ready
// is asked itself, once, briefly: a killed agent refuses the connection,
// a live one with a failing readiness probe still leads.
func (r *Reconciler) leads(ctx context.Context, ac *aerov1.AerolithCluster, p *corev1.Pod) bool {
	c, err := r.adminClient(ctx, ac, agentclient.Config{URL: r.cfg.NodeURL(ac, p),
		Timeout: 2 * time.Second, MaxRetries: -1, ConnectTimeout: time.Second})
	if err != nil {
		return false
	}
	st, err := c.Cluster(ctx)
	return err == nil && st.LeaderID == p.Name && st.State == raftLeaderState
}

// raftLeaderState is the state /api/v1/cluster reports on the leader
// (hashicorp/raft's RaftState.String()).
const raftLeaderState = "Leader"

// ordinal is the StatefulSet ordinal of pod name of ac, -1 if none.
func ordinal(ac *aerov1.AerolithCluster, name string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(name, ac.Name+"-"))
	if err != nil || !strings.HasPrefix(name, ac.Name+"-") {
		return -1
	}
	return n
}

// clusterCA is the CA the nodes' certificates chain to: ca.crt of the TLS
// Secret, or the cluster CA billing issued the enrolled nodes'.
func (r *Reconciler) clusterCA(ctx context.Context, ac *aerov1.AerolithCluster) (*x509.CertPool, error) {
	pemCA, err := r.clusterCAPEM(ctx, ac)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		return nil, errors.New("cluster CA: no PEM certificate")
	}
	return pool, nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podNamed is the pod of pods named name, nil if none.
func podNamed(pods []corev1.Pod, name string) *corev1.Pod {
	for i := range pods {
		if pods[i].Name == name {
			return &pods[i]
		}
	}
	return nil
}

// member finds node id in a membership.
func member(st *agentclient.ClusterStatus, id string) (agentclient.Member, bool) {
	for _, m := range st.Members {
		if m.ID == id {
			return m, true
		}
	}
	return agentclient.Member{}, false
}

func voters(st *agentclient.ClusterStatus) int32 {
	var n int32
	for _, m := range st.Members {
		if m.Voter {
			n++
		}
	}
	return n
}

// scaleDownStep takes one node out of a cluster whose StatefulSet has
// more replicas than the spec's nodes: the highest ordinal leaves raft
// first (its removal committed; a leader removing itself hands leadership
// over), and only once the membership no longer lists it does the
// replica count drop, so the StatefulSet never deletes a pod raft still
// counts on. It reports whether the replica count may drop now.
func (r *Reconciler) scaleDownStep(ctx context.Context, ac *aerov1.AerolithCluster, replicas int32, st *agentclient.ClusterStatus, nc *agentclient.Client) (bool, error) {
	victim := PodName(ac, int(replicas-1))
	if _, ok := member(st, victim); !ok {
		r.log.Info("scale-down: member removed from raft", "cluster", ac.Namespace+"/"+ac.Name, "member", victim, "leader", st.LeaderID)
		return true, nil
	}
	if n := voters(st); n <= 1 {
		return false, fmt.Errorf("scale-down: %s is the last voter", victim)
	}
	r.log.Info("scale-down: removing member from raft", "cluster", ac.Namespace+"/"+ac.Name, "member", victim, "replicas", replicas)
	r.event(ac, corev1.EventTypeNormal, "RemovingMember", "removing %s from raft before its pod goes", victim)
	if err := nc.Remove(ctx, victim); err != nil {
		return false, fmt.Errorf("scale-down: remove %s from raft: %w", victim, err)
	}
	// The next pass sees the membership without it and lowers the
	// replica count.
	return false, nil
}

// leavingPod names a pod of ac whose ordinal is at or past replicas (the
// StatefulSet has yet to delete it), or "".
func leavingPod(ac *aerov1.AerolithCluster, pods []corev1.Pod, replicas int32) string {
	for i := range pods {
		n, err := strconv.Atoi(strings.TrimPrefix(pods[i].Name, ac.Name+"-"))
		if err == nil && int32(n) >= replicas {
			return pods[i].Name
		}
	}
	return ""
}
