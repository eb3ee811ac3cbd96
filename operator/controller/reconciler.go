// Package controller is the Kubernetes operator's reconciler: it turns an
// AerolithCluster into a StatefulSet of agents (stable ids, volumes,
// readiness on /readyz, anti-affinity), a headless Service for raft, a
// client Service, a PodDisruptionBudget keeping a majority, the admin and
// enrollment Secrets, and the cluster's registration with billing. It is
// level-based: each pass compares what exists with the spec and does the
// next step, so repeating a pass changes nothing.
//
// Scaling goes through raft: new pods join as non-voters and the leader
// promotes them; a scale-down removes the highest ordinal from raft first
// and lowers the replica count only once the membership no longer lists
// it (scaleDownStep).
package controller

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	agentclient "github.com/aerolithdb/aerolith/agent/client"
	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
)

// Finalizer holds an AerolithCluster until billing has deregistered it.
const Finalizer = "aerolithdb.io/billing-registration"

// templateHashAnnotation records the hash of the pod template the
// operator last wrote, so a change of the spec's image, resources or TLS
// rolls the pods and nothing else does.
const templateHashAnnotation = "aerolithdb.io/template-hash"

// Config configures a Reconciler.
type Config struct {
	Client   client.Client
	Scheme   *runtime.Scheme
	Recorder record.EventRecorder
	Log      *slog.Logger
	// NodeURL is the base URL of a pod's data API (default
	// DefaultNodeURL, the pod's DNS name).
	NodeURL func(*aerov1.AerolithCluster, *corev1.Pod) string
	// BillingHTTPClient, when set, is the HTTP client of billing calls.
	BillingHTTPClient *http.Client
	// Resync is how often a settled cluster is looked at again (default
	// 30s); a changing one is looked at every Poll (default 1s).
	Resync, Poll time.Duration
}

// Reconciler reconciles AerolithClusters. Safe for concurrent use by
// controller-runtime's workers (one object is never reconciled twice at
// once).
type Reconciler struct {
	cfg      Config
	log      *slog.Logger
	removals removals
	// apiReader reads past the cache (the manager's), where acting on a
	// stale answer costs something in billing.
	apiReader client.Reader
}

// New returns a Reconciler; it does no I/O.
func New(cfg Config) *Reconciler {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.NodeURL == nil {
		cfg.NodeURL = DefaultNodeURL
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 30 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	return &Reconciler{cfg: cfg, log: cfg.Log.With("component", "operator")}
}

// SetupWithManager registers the reconciler: AerolithClusters, the
// objects they own, and their pods (envtest and clusters without a
// StatefulSet controller report readiness on the pods only).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.apiReader = mgr.GetAPIReader()
	return ctrl.NewControllerManagedBy(mgr).
		For(&aerov1.AerolithCluster{}).
		Owns(&appsv1.StatefulSet{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.Secret{}).
		Owns(&corev1.ConfigMap{}).
		// Secrets a cluster reads without owning them (TLS, billing's
		// credentials and CA): one created or fixed later moves it on.
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.clustersReferencing)).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			l := o.GetLabels()
			if l["app.kubernetes.io/managed-by"] != "aerolith-operator" || l["app.kubernetes.io/instance"] == "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: l["app.kubernetes.io/instance"]}}}
		})).
		Named("aerolithcluster").
		Complete(r)
}

// +kubebuilder:rbac:groups=aerolithdb.io,resources=aerolithclusters,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=aerolithdb.io,resources=aerolithclusters/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=aerolithdb.io,resources=aerolithclusters/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=services;secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;update;patch;delete

// Reconcile does the next step towards req's AerolithCluster spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var ac aerov1.AerolithCluster
	if err := r.cfg.Client.Get(ctx, req.NamespacedName, &ac); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ac.DeletionTimestamp != nil {
		return r.finalize(ctx, &ac)
	}
	if controllerutil.AddFinalizer(&ac, Finalizer) {
		if err := r.cfg.Client.Update(ctx, &ac); err != nil {
			return ctrl.Result{}, err
		}
	}
	before := ac.Status.DeepCopy()
	ctx, events := withStatusEvents(ctx)
	res, err := r.reconcile(ctx, &ac)
	if err != nil {
		r.setCondition(&ac, aerov1.ConditionDegraded, metav1.ConditionTrue, reasonOf(err), err.Error())
		r.setCondition(&ac, aerov1.ConditionReady, metav1.ConditionFalse, reasonOf(err), err.Error())
		ac.Status.Phase = aerov1.PhaseDegraded
		if !errors.Is(err, errBilling) && !errors.Is(err, errNoReadyNode) {
			r.log.Warn("reconcile failed", "cluster", req.String(), "error", err)
		}
		res = ctrl.Result{RequeueAfter: r.cfg.Poll}
	}
	ac.Status.ObservedGeneration = ac.Generation
	if !statusEqual(before, &ac.Status) {
		if uerr := r.cfg.Client.Status().Update(ctx, &ac); uerr != nil {
			return ctrl.Result{}, uerr
		}
	}
	events.flush(r, &ac)
	// One event per billing failure, not one per pass while it lasts.
	if prev := apimeta.FindStatusCondition(before.Conditions, aerov1.ConditionDegraded); err != nil && errors.Is(err, errBilling) &&
		(prev == nil || prev.Status != metav1.ConditionTrue || prev.Message != err.Error()) {
		r.event(&ac, corev1.EventTypeWarning, "BillingError", "%v", err)
		r.log.Warn("billing refused or unreachable", "cluster", req.String(), "error", err)
	}
	return res, nil
}

func reasonOf(err error) string {
	switch {
	case errors.Is(err, errBilling):
		return "BillingError"
	case errors.Is(err, errNoReadyNode):
		return "NoReadyNode"
	case errors.Is(err, errTLSSecret):
		return "TLSSecretInvalid"
	}
	return "ReconcileError"
}

func statusEqual(a, b *aerov1.AerolithClusterStatus) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func (r *Reconciler) event(ac *aerov1.AerolithCluster, typ, reason, format string, args ...any) {
	if r.cfg.Recorder != nil {
		r.cfg.Recorder.Eventf(ac, typ, reason, format, args...)
	}
}

func (r *Reconciler) setCondition(ac *aerov1.AerolithCluster, typ string, st metav1.ConditionStatus, reason, msg string) {
	apimeta.SetStatusCondition(&ac.Status.Conditions, metav1.Condition{
		Type: typ, Status: st, Reason: reason, Message: msg, ObservedGeneration: ac.Generation,
	})
}

// finalize deregisters a deleted cluster from billing, then lets it go.
// The owned objects go by garbage collection; the volumes stay unless
// VolumeReclaimPolicy is Delete (the StatefulSet's retention policy).
func (r *Reconciler) finalize(ctx context.Context, ac *aerov1.AerolithCluster) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(ac, Finalizer) {
		return ctrl.Result{}, nil
	}
	if ac.Status.Phase != aerov1.PhaseDeleting {
		ac.Status.Phase = aerov1.PhaseDeleting
		r.setCondition(ac, aerov1.ConditionReady, metav1.ConditionFalse, "Deleting", "deregistering from billing")
		if err := r.cfg.Client.Status().Update(ctx, ac); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.deregister(ctx, ac); err != nil {
		r.event(ac, corev1.EventTypeWarning, "DeregisterFailed", "%v; deletion waits for billing", err)
		r.log.Warn("deregistration failed; deletion waits", "cluster", ac.Namespace+"/"+ac.Name, "error", err)
		return ctrl.Result{RequeueAfter: r.cfg.Poll}, nil
	}
	r.removals.forget(ac, nil)
	controllerutil.RemoveFinalizer(ac, Finalizer)
	return ctrl.Result{}, r.cfg.Client.Update(ctx, ac)
}

// reconcile does one pass on a live cluster and fills in its status.
func (r *Reconciler) reconcile(ctx context.Context, ac *aerov1.AerolithCluster) (ctrl.Result, error) {
	if err := r.ensureAdminSecret(ctx, ac); err != nil {
		return ctrl.Result{}, err
	}
	id, err := r.ensureEnrollment(ctx, ac)
	if err != nil {
		if ac.Status.Phase == "" {
			ac.Status.Phase = aerov1.PhasePending
		}
		return ctrl.Result{}, err
	}
	ac.Status.ClusterID = id
	if err := r.ensureTLS(ctx, ac); err != nil {
		return ctrl.Result{}, err
	}
	for _, obj := range []client.Object{desiredHeadlessService(ac), desiredClientService(ac), desiredPDB(ac)} {
		if err := r.apply(ctx, ac, obj); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.ensureNetworkPolicy(ctx, ac); err != nil {
		return ctrl.Result{}, err
	}
	return r.reconcileNodes(ctx, ac)
}

// ensureAdminSecret creates the cluster admin key once; it is never
// rewritten (the running nodes hold it).
func (r *Reconciler) ensureAdminSecret(ctx context.Context, ac *aerov1.AerolithCluster) error {
	var s corev1.Secret
	err := r.cfg.Client.Get(ctx, types.NamespacedName{Namespace: ac.Namespace, Name: AdminSecretName(ac)}, &s)
	if !apierrors.IsNotFound(err) {
		return err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	s = corev1.Secret{ObjectMeta: meta(ac, AdminSecretName(ac)), Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{AdminKeySecretKey: []byte("adm_" + base64.RawURLEncoding.EncodeToString(b[:]))}}
	if err := controllerutil.SetControllerReference(ac, &s, r.cfg.Scheme); err != nil {
		return err
	}
	return r.cfg.Client.Create(ctx, &s)
}

// apply creates obj or brings the fields the operator owns up to date
// (labels and spec; a Service keeps its allocated cluster IP).
func (r *Reconciler) apply(ctx context.Context, ac *aerov1.AerolithCluster, want client.Object) error {
	cur := want.DeepCopyObject().(client.Object)
	_, err := controllerutil.CreateOrUpdate(ctx, r.cfg.Client, cur, func() error {
		cur.SetLabels(want.GetLabels())
		switch c := cur.(type) {
		case *corev1.Service:
			w := want.(*corev1.Service)
			c.Spec.Ports, c.Spec.Selector, c.Spec.PublishNotReadyAddresses = w.Spec.Ports, w.Spec.Selector, w.Spec.PublishNotReadyAddresses
			if c.Spec.ClusterIP == "" {
				c.Spec.ClusterIP = w.Spec.ClusterIP
			}
			if c.Spec.Type == "" {
				c.Spec.Type = w.Spec.Type
			}
		case *policyv1.PodDisruptionBudget:
			c.Spec = want.(*policyv1.PodDisruptionBudget).Spec
		case *networkingv1.NetworkPolicy:
			c.Spec = want.(*networkingv1.NetworkPolicy).Spec
		}
		return controllerutil.SetControllerReference(ac, cur, r.cfg.Scheme)
	})
	if err != nil {
		return fmt.Errorf("apply %T %s: %w", want, want.GetName(), err)
	}
	return nil
}

func (r *Reconciler) ensureNetworkPolicy(ctx context.Context, ac *aerov1.AerolithCluster) error {
	if np := desiredNetworkPolicy(ac); np != nil {
		return r.apply(ctx, ac, np)
	}
	np := &networkingv1.NetworkPolicy{ObjectMeta: meta(ac, ac.Name)}
	err := r.cfg.Client.Delete(ctx, np)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func templateHash(t *corev1.PodTemplateSpec) string {
	b, _ := json.Marshal(t)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// bootstrapOf reads the node count sts was formed with from its pod
// template (0 when absent).
func bootstrapOf(sts *appsv1.StatefulSet) int32 {
	for _, c := range sts.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == "AEROLITH_BOOTSTRAP_EXPECT" {
				n, _ := strconv.Atoi(e.Value)
				return int32(n)
			}
		}
	}
	return 0
}

// reconcileNodes creates or scales the StatefulSet and reports the
// nodes' state.
func (r *Reconciler) reconcileNodes(ctx context.Context, ac *aerov1.AerolithCluster) (ctrl.Result, error) {
	key := ac.Namespace + "/" + ac.Name
	var sts appsv1.StatefulSet
	err := r.cfg.Client.Get(ctx, types.NamespacedName{Namespace: ac.Namespace, Name: statefulSetName(ac)}, &sts)
	if apierrors.IsNotFound(err) {
		want := desiredStatefulSet(ac, ac.Spec.Nodes, ac.Spec.Nodes)
		want.Annotations = map[string]string{templateHashAnnotation: templateHash(&want.Spec.Template)}
		if err := controllerutil.SetControllerReference(ac, want, r.cfg.Scheme); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.cfg.Client.Create(ctx, want); err != nil {
			return ctrl.Result{}, fmt.Errorf("create statefulset: %w", err)
		}
		ac.Status.BootstrapNodes = ac.Spec.Nodes
		r.log.Info("created statefulset", "cluster", key, "replicas", ac.Spec.Nodes)
		r.event(ac, corev1.EventTypeNormal, "Creating", "creating %d nodes", ac.Spec.Nodes)
		ac.Status.Phase = aerov1.PhaseCreating
		r.setCondition(ac, aerov1.ConditionProgressing, metav1.ConditionTrue, "Creating", fmt.Sprintf("forming a cluster of %d nodes", ac.Spec.Nodes))
		r.setCondition(ac, aerov1.ConditionReady, metav1.ConditionFalse, "Creating", "no node is ready yet")
		r.setCondition(ac, aerov1.ConditionDegraded, metav1.ConditionFalse, "Creating", "")
		return ctrl.Result{RequeueAfter: r.cfg.Poll}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	bootstrap := bootstrapOf(&sts)
	if bootstrap == 0 {
		bootstrap = ac.Spec.Nodes
	}
	ac.Status.BootstrapNodes = bootstrap
	replicas := ptr.Deref(sts.Spec.Replicas, 1)

	// The pod template follows the spec (image, resources, TLS); a change
	// rolls the pods, one at a time, by the StatefulSet's update strategy.
	want := desiredStatefulSet(ac, replicas, bootstrap)
	if h := templateHash(&want.Spec.Template); sts.Annotations[templateHashAnnotation] != h {
		sts.Spec.Template = want.Spec.Template
		sts.Spec.PersistentVolumeClaimRetentionPolicy = want.Spec.PersistentVolumeClaimRetentionPolicy
		if sts.Annotations == nil {
			sts.Annotations = map[string]string{}
		}
		sts.Annotations[templateHashAnnotation] = h
		if err := r.cfg.Client.Update(ctx, &sts); err != nil {
			return ctrl.Result{}, fmt.Errorf("update statefulset template: %w", err)
		}
		r.log.Info("pod template changed; rolling the pods", "cluster", key)
		r.event(ac, corev1.EventTypeNormal, "Updating", "pod template changed (image %s)", image(ac))
	}

	var pods corev1.PodList
	if err := r.cfg.Client.List(ctx, &pods, client.InNamespace(ac.Namespace), client.MatchingLabels(selector(ac))); err != nil {
		return ctrl.Result{}, err
	}
	var ready int32
	for i := range pods.Items {
		if podReady(&pods.Items[i]) {
			ready++
		}
	}
	ac.Status.Nodes, ac.Status.ReadyNodes = replicas, ready
	ac.Status.Endpoints = endpoints(ac, replicas)

	var st *agentclient.ClusterStatus
	nc, err := r.nodeClient(ctx, ac, pods.Items)
	if err == nil {
		st, err = nc.Cluster(ctx)
	}
	if err != nil && !errors.Is(err, errNoReadyNode) {
		err = fmt.Errorf("membership: %w", err)
	}
	obs := observation{pods: pods.Items, st: st, err: err, now: time.Now()}
	if st != nil {
		ac.Status.Leader, ac.Status.Voters = st.LeaderID, voters(st)
		if p := podNamed(pods.Items, st.LeaderID); p != nil && !podReady(p) && p.DeletionTimestamp == nil {
			obs.leaderAnswered = r.leads(ctx, ac, p)
		}
	} else {
		ac.Status.Leader = "" // nobody answered: no leader is known
	}
	desired := ac.Spec.Nodes
	if p := leavingPod(ac, pods.Items, replicas); p != "" {
		// A pod past the replica count left raft and is still going: a
		// scale must not reuse it (it would come back removed), and the
		// next node leaves only once it is gone.
		return r.progressing(ac, "ScalingDown", fmt.Sprintf("waiting for pod %s to stop (it left raft)", p)), nil
	}
	switch {
	case replicas < desired:
		sts.Spec.Replicas = ptr.To(desired)
		if err := r.cfg.Client.Update(ctx, &sts); err != nil {
			return ctrl.Result{}, fmt.Errorf("scale up: %w", err)
		}
		r.log.Info("scale-up: raising replicas; new nodes join as non-voters and are promoted", "cluster", key, "from", replicas, "to", desired)
		r.event(ac, corev1.EventTypeNormal, "ScalingUp", "scaling from %d to %d nodes", replicas, desired)
		ac.Status.Nodes = desired
		ac.Status.Endpoints = endpoints(ac, desired)
		return r.progressing(ac, "ScalingUp", fmt.Sprintf("scaling from %d to %d nodes", replicas, desired)), nil
	case replicas > desired:
		if st == nil {
			return ctrl.Result{}, fmt.Errorf("scale-down waits for the membership: %w", err)
		}
		drop, err := r.scaleDownStep(ctx, ac, replicas, st, nc)
		if err != nil {
			return ctrl.Result{}, err
		}
		if drop {
			sts.Spec.Replicas = ptr.To(replicas - 1)
			if err := r.cfg.Client.Update(ctx, &sts); err != nil {
				return ctrl.Result{}, fmt.Errorf("scale down: %w", err)
			}
			r.log.Info("scale-down: lowering replicas", "cluster", key, "from", replicas, "to", replicas-1, "member", PodName(ac, int(replicas-1)))
			r.event(ac, corev1.EventTypeNormal, "ScalingDown", "%s left raft; replicas %d → %d", PodName(ac, int(replicas-1)), replicas, replicas-1)
			ac.Status.Nodes = replicas - 1
			ac.Status.Endpoints = endpoints(ac, replicas-1)
		}
		return r.progressing(ac, "ScalingDown", fmt.Sprintf("scaling from %d to %d nodes", replicas, desired)), nil
	}
	blocked := r.removeDroppedTenants(ctx, ac, pods.Items, st)
	if ac.Status.Phase == aerov1.PhaseRunning || ac.Status.Phase == aerov1.PhaseDegraded {
		// A formed cluster: its health is observed at each pass, level
		// based, whatever triggered the pass.
		h := assessHealth(ac, replicas, obs)
		ac.Status.Leader = h.leader // not a lost one a follower still names
		return r.settleHealth(ctx, ac, replicas, h, blocked), nil
	}
	if err != nil {
		if ac.Status.Phase == aerov1.PhaseCreating {
			return r.progressing(ac, "Creating", fmt.Sprintf("forming a cluster of %d nodes", desired)), nil
		}
		return ctrl.Result{}, err
	}
	if ready < replicas || ac.Status.Voters < replicas || st.LeaderID == "" {
		msg := fmt.Sprintf("%d of %d nodes ready, %d voters", ready, replicas, ac.Status.Voters)
		if ac.Status.Phase == aerov1.PhaseCreating {
			return r.progressing(ac, "Creating", msg), nil
		}
		return r.progressing(ac, "Joining", msg), nil
	}
	h := assessHealth(ac, replicas, obs)
	ac.Status.Leader = h.leader
	return r.settleHealth(ctx, ac, replicas, h, blocked), nil
}

func (r *Reconciler) progressing(ac *aerov1.AerolithCluster, reason, msg string) ctrl.Result {
	if ac.Status.Phase != aerov1.PhaseCreating {
		ac.Status.Phase = aerov1.PhaseScaling
	}
	r.setCondition(ac, aerov1.ConditionProgressing, metav1.ConditionTrue, reason, msg)
	r.setCondition(ac, aerov1.ConditionReady, metav1.ConditionFalse, reason, msg)
	r.setCondition(ac, aerov1.ConditionDegraded, metav1.ConditionFalse, reason, "")
	return ctrl.Result{RequeueAfter: r.cfg.Poll}
}
