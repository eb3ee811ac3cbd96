// Package podsim plays the kubelet (and the StatefulSet controller and
// cluster DNS) for a control plane that has none, such as envtest: for
// each pod a StatefulSet would have, it runs the pod's container command
// as a real local process on a loopback address of its own, and reports
// the pod on the API server (a Pod object with its IP and Ready
// condition, from the container's readiness probe). Like a kubelet it
// keeps probing each container's readiness with the probe's period and
// thresholds, marks a pod not ready as soon as its process exits, and
// restarts an exited process (restartPolicy Always) after the kubelet's
// crash-loop back-off, counting restarts in the container status. Lowering
// the replica count stops the highest ordinals' processes and deletes
// their Pods and data (the StatefulSet's whenScaled: Delete volume policy).
//
// Only what the aerolith operator's StatefulSets use is understood:
// environment variables (values, $(VAR) references, secretKeyRef,
// fieldRef metadata.name), Secret volumes, the data volume claim, an HTTP
// GET readiness probe, and pod DNS names <pod>.<service>.<namespace>.svc,
// which are rewritten to the pods' loopback addresses.
package podsim

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aerolithdb/aerolith/provisioner/local"
)

// Config configures a Kubelet.
type Config struct {
	// Client talks to the API server. Required.
	Client client.Client
	// Namespace whose StatefulSets are played. Required.
	Namespace string
	// Binary replaces the container's executable (the image's
	// entrypoint): the container's Args are passed to it. Required.
	Binary string
	// Dir holds each pod's data, mounted files and log. Required.
	Dir string
	// Log receives what the stand-in does.
	Log *slog.Logger
	// BeforeStop, when set, is called before a pod's process is stopped
	// because the replica count dropped (tests check raft let go of it).
	BeforeStop func(pod string, env map[string]string)
	// Interval between passes (default 200ms); a process exiting or
	// starting triggers a pass at once.
	Interval time.Duration
	// RestartBackoff is the delay before the first restart of an exited
	// process, doubling up to 5 minutes (default 10s, the kubelet's
	// crash-loop back-off).
	RestartBackoff time.Duration
}

// The kubelet's container restart back-off: 10s doubling to 5 minutes,
// forgotten after 10 minutes of running.
const (
	defaultRestartBackoff = 10 * time.Second
	maxRestartBackoff     = 5 * time.Minute
	restartBackoffReset   = 10 * time.Minute
)

// Kubelet runs the pods of a namespace's StatefulSets.
type Kubelet struct {
	cfg Config
	log *slog.Logger
	sup *local.Supervisor
	net [2]byte // 127.net[0].net[1].x: this kubelet's loopback range

	wake chan struct{} // a process started or exited: pass now

	mu   sync.Mutex
	pods map[string]*pod // by pod name
}

type pod struct {
	name, sts string
	ordinal   int
	ip        string
	env       map[string]string
	probe     probeSpec

	// Guarded by Kubelet.mu: what the supervisor's events said.
	waiting  string // waiting reason while a restart is pending
	lastExit string // how the previous run ended
	// Only the pass touches these.
	pid           int       // the running process seen last pass (0: none)
	started       time.Time // when pid was first seen
	restarts      int32
	ready         bool // the probe's verdict on the current run
	successes     int32
	failures      int32
	nextProbe     time.Time
	reported      string // the status last written to the Pod, as a key
	reportedReady bool
}

// probeSpec is a container's readiness probe as the kubelet runs it.
type probeSpec struct {
	url              string // "" : no probe, ready while running
	initialDelay     time.Duration
	period, timeout  time.Duration
	success, failure int32 // thresholds
}

// New returns a Kubelet; Run starts it.
func New(cfg Config) (*Kubelet, error) {
	if cfg.Client == nil || cfg.Namespace == "" || cfg.Binary == "" || cfg.Dir == "" {
		return nil, errors.New("podsim: Client, Namespace, Binary and Dir are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 200 * time.Millisecond
	}
	if cfg.RestartBackoff <= 0 {
		cfg.RestartBackoff = defaultRestartBackoff
	}
	k := &Kubelet{cfg: cfg, log: cfg.Log.With("component", "podsim"), pods: map[string]*pod{}, wake: make(chan struct{}, 1)}
	_, _ = rand.Read(k.net[:])
	k.net[0] = 100 + k.net[0]%150
	k.sup = local.New(local.Config{StopTimeout: 20 * time.Second, OnEvent: k.onEvent})
	return k, nil
}

// onEvent records what the supervisor says of a pod's process (the
// container runtime's events, which the kubelet turns into container
// states) and wakes the pass loop so the Pod's status follows at once.
func (k *Kubelet) onEvent(e local.Event) {
	if e.Kind != local.Started {
		k.log.Info("process "+e.Kind.String(), "pod", e.Name, "pid", e.PID, "error", e.Err, "delay", e.Delay)
	}
	k.mu.Lock()
	if p := k.pods[e.Name]; p != nil {
		switch e.Kind {
		case local.Started:
			p.waiting = ""
		case local.Exited:
			p.lastExit = local.ExitReason(e.Err)
		case local.Restarting:
			p.waiting = "CrashLoopBackOff"
		case local.GaveUp:
			p.waiting = "CrashLoopBackOff"
		}
	}
	k.mu.Unlock()
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// PID is the process id of pod name's container while it runs (tests
// kill it to play a crashed node).
func (k *Kubelet) PID(name string) (int, bool) { return k.sup.PID(name) }

// PodIP is the loopback address of ordinal i of StatefulSet sts (stable
// across restarts, like a pod's DNS name).
func (k *Kubelet) PodIP(ordinal int) string {
	return fmt.Sprintf("127.%d.%d.%d", k.net[0], k.net[1], ordinal+1)
}

// Run plays the pods until ctx ends, then stops every process.
func (k *Kubelet) Run(ctx context.Context) error {
	t := time.NewTicker(k.cfg.Interval)
	defer t.Stop()
	last := ""
	for {
		// A failure is logged when it changes, not at every pass.
		if err := k.pass(ctx); err != nil && ctx.Err() == nil && err.Error() != last {
			k.log.Warn("pass failed", "error", err)
			last = err.Error()
		} else if err == nil {
			last = ""
		}
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return k.sup.Stop(sctx)
		case <-t.C:
		case <-k.wake:
		}
	}
}

func (k *Kubelet) pass(ctx context.Context) error {
	var list appsv1.StatefulSetList
	if err := k.cfg.Client.List(ctx, &list, client.InNamespace(k.cfg.Namespace)); err != nil {
		return err
	}
	want := map[string]bool{}
	var errs []error
	for i := range list.Items {
		sts := &list.Items[i]
		n := int(ptr.Deref(sts.Spec.Replicas, 1))
		if sts.DeletionTimestamp != nil {
			n = 0
		}
		for o := range n {
			name := sts.Name + "-" + strconv.Itoa(o)
			want[name] = true
			if err := k.ensure(ctx, sts, o); err != nil {
				errs = append(errs, fmt.Errorf("pod %s: %w", name, err))
			}
		}
	}
	k.mu.Lock()
	var gone []*pod
	for name, p := range k.pods {
		if !want[name] {
			gone = append(gone, p)
		}
	}
	k.mu.Unlock()
	slices.SortFunc(gone, func(a, b *pod) int { return b.ordinal - a.ordinal })
	for _, p := range gone {
		errs = append(errs, k.remove(ctx, p))
	}
	return errors.Join(errs...)
}

// ensure runs ordinal o of sts and reports its Pod.
func (k *Kubelet) ensure(ctx context.Context, sts *appsv1.StatefulSet, o int) error {
	name := sts.Name + "-" + strconv.Itoa(o)
	k.mu.Lock()
	p := k.pods[name]
	k.mu.Unlock()
	if p == nil {
		var err error
		if p, err = k.start(ctx, sts, o); err != nil {
			return err
		}
	}
	k.observe(ctx, p)
	var cur corev1.Pod
	err := k.cfg.Client.Get(ctx, types.NamespacedName{Namespace: sts.Namespace, Name: name}, &cur)
	if apierrors.IsNotFound(err) {
		cur = corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: sts.Namespace, Labels: map[string]string{},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: sts.Name, UID: sts.UID, Controller: ptr.To(true)}}},
			Spec: *sts.Spec.Template.Spec.DeepCopy(),
		}
		for lk, lv := range sts.Spec.Template.Labels {
			cur.Labels[lk] = lv
		}
		cur.Labels["statefulset.kubernetes.io/pod-name"] = name
		cur.Spec.Hostname, cur.Spec.Subdomain = name, sts.Spec.ServiceName
		// The StatefulSet controller gives each pod its claims as volumes.
		for _, vct := range sts.Spec.VolumeClaimTemplates {
			cur.Spec.Volumes = append(cur.Spec.Volumes, corev1.Volume{Name: vct.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: vct.Name + "-" + name}}})
		}
		if err := k.cfg.Client.Create(ctx, &cur); err != nil {
			return err
		}
		p.reported = ""
	} else if err != nil {
		return err
	}
	k.mu.Lock()
	waiting, lastExit := p.waiting, p.lastExit
	k.mu.Unlock()
	ready := p.pid != 0 && p.ready
	key := fmt.Sprintf("%s|%t|%d|%d|%s|%s", p.ip, ready, p.pid, p.restarts, waiting, lastExit)
	if key == p.reported && cur.Status.Phase == corev1.PodRunning && cur.Status.PodIP == p.ip {
		return nil
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	now := metav1.Now()
	cur.Status.Phase, cur.Status.PodIP = corev1.PodRunning, p.ip
	cur.Status.PodIPs = []corev1.PodIP{{IP: p.ip}}
	cur.Status.Conditions = []corev1.PodCondition{
		readyCondition(cur.Status.Conditions, corev1.ContainersReady, st, now),
		readyCondition(cur.Status.Conditions, corev1.PodReady, st, now),
	}
	cur.Status.ContainerStatuses = []corev1.ContainerStatus{containerStatus(sts, p, ready, waiting, lastExit)}
	if err := k.cfg.Client.Status().Update(ctx, &cur); err != nil {
		return err
	}
	if p.reported == "" || ready != p.reportedReady {
		k.log.Info("pod readiness", "pod", name, "ready", ready, "restarts", p.restarts)
	}
	p.reported, p.reportedReady = key, ready
	return nil
}

// readyCondition is condition typ with status st, keeping its transition
// time when the status did not change (as the kubelet does).
func readyCondition(prev []corev1.PodCondition, typ corev1.PodConditionType, st corev1.ConditionStatus, now metav1.Time) corev1.PodCondition {
	for _, c := range prev {
		if c.Type == typ && c.Status == st {
			return corev1.PodCondition{Type: typ, Status: st, LastTransitionTime: c.LastTransitionTime}
		}
	}
	return corev1.PodCondition{Type: typ, Status: st, LastTransitionTime: now}
}

// containerStatus is the status of p's one container: running, or
// waiting to be restarted, with the previous run's end as last state.
func containerStatus(sts *appsv1.StatefulSet, p *pod, ready bool, waiting, lastExit string) corev1.ContainerStatus {
	c := sts.Spec.Template.Spec.Containers[0]
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: ready, RestartCount: p.restarts, Started: ptr.To(p.pid != 0)}
	switch {
	case p.pid != 0:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(p.started)}
	case waiting != "":
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: waiting, Message: "back-off restarting the exited container"}
	default:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	if lastExit != "" {
		cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "Error", Message: lastExit, ExitCode: exitCode(lastExit)}
	}
	return cs
}

// exitCode is the container exit code a runtime reports for a Wait
// result: the status, or 128+signal ("signal: killed" is 137).
func exitCode(reason string) int32 {
	if n, ok := strings.CutPrefix(reason, "exit status "); ok {
		v, _ := strconv.Atoi(n)
		return int32(v)
	}
	signals := map[string]int32{"killed": 9, "terminated": 15, "interrupt": 2, "aborted": 6, "segmentation fault": 11}
	if sig, ok := strings.CutPrefix(reason, "signal: "); ok {
		return 128 + signals[sig]
	}
	return 1
}

// observe follows p's process and probes its readiness when due, as a
// kubelet's prober does: a new run starts not ready, the probe runs every
// period after the initial delay, and the verdict flips after success
// (failure) threshold probes in a row. A pod whose process is not running
// is not ready whatever the probe said.
func (k *Kubelet) observe(ctx context.Context, p *pod) {
	pid, _ := k.sup.PID(p.name)
	now := time.Now()
	if pid != p.pid {
		if pid != 0 && !p.started.IsZero() {
			p.restarts++ // a new run after an exit
		}
		if pid != 0 {
			p.started = now
			p.nextProbe = now.Add(p.probe.initialDelay)
		}
		p.pid, p.ready, p.successes, p.failures = pid, false, 0, 0
	}
	if pid == 0 {
		return
	}
	if p.probe.url == "" {
		p.ready = true
		return
	}
	if now.Before(p.nextProbe) {
		return
	}
	p.nextProbe = now.Add(p.probe.period)
	if probe(ctx, p.probe.url, p.probe.timeout) {
		p.successes, p.failures = p.successes+1, 0
		if p.successes >= p.probe.success {
			p.ready = true
		}
	} else {
		p.successes, p.failures = 0, p.failures+1
		if p.failures >= p.probe.failure {
			p.ready = false
		}
	}
}

func probe(ctx context.Context, url string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	// The kubelet does not verify a probe's certificate either.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// probeOf is c's readiness probe with the API's defaults (period 10s,
// timeout 1s, thresholds 1 and 3) for unset fields.
func probeOf(c corev1.Container, ip string) probeSpec {
	ps := probeSpec{period: 10 * time.Second, timeout: time.Second, success: 1, failure: 3}
	pr := c.ReadinessProbe
	if pr == nil || pr.HTTPGet == nil {
		return ps
	}
	secs := func(v int32, def time.Duration) time.Duration {
		if v > 0 {
			return time.Duration(v) * time.Second
		}
		return def
	}
	ps.initialDelay = secs(pr.InitialDelaySeconds, 0)
	ps.period, ps.timeout = secs(pr.PeriodSeconds, ps.period), secs(pr.TimeoutSeconds, ps.timeout)
	if pr.SuccessThreshold > 0 {
		ps.success = pr.SuccessThreshold
	}
	if pr.FailureThreshold > 0 {
		ps.failure = pr.FailureThreshold
	}
	g := pr.HTTPGet
	scheme := "http"
	if g.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	port := g.Port.IntValue()
	for _, cp := range c.Ports {
		if cp.Name == g.Port.String() {
			port = int(cp.ContainerPort)
		}
	}
	ps.url = scheme + "://" + net.JoinHostPort(ip, strconv.Itoa(port)) + g.Path
	return ps
}

// start resolves ordinal o's container and starts its process.
func (k *Kubelet) start(ctx context.Context, sts *appsv1.StatefulSet, o int) (*pod, error) {
	name := sts.Name + "-" + strconv.Itoa(o)
	tpl := sts.Spec.Template.Spec
	if len(tpl.Containers) != 1 {
		return nil, fmt.Errorf("want one container, the template has %d", len(tpl.Containers))
	}
	c := tpl.Containers[0]
	p := &pod{name: name, sts: sts.Name, ordinal: o, ip: k.PodIP(o), env: map[string]string{}}
	dir := filepath.Join(k.cfg.Dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// Mounts: volume claims become directories, Secret volumes files.
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		local := filepath.Join(dir, "volumes", m.Name)
		mounts[m.MountPath] = local
		if err := os.MkdirAll(local, 0o700); err != nil {
			return nil, err
		}
		for _, v := range tpl.Volumes {
			if v.Name != m.Name || v.Secret == nil {
				continue
			}
			var s corev1.Secret
			if err := k.cfg.Client.Get(ctx, types.NamespacedName{Namespace: sts.Namespace, Name: v.Secret.SecretName}, &s); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
			files := map[string]string{}
			for key := range s.Data {
				files[key] = key
			}
			if len(v.Secret.Items) > 0 {
				files = map[string]string{}
				for _, it := range v.Secret.Items {
					files[it.Key] = it.Path
				}
			}
			for key, path := range files {
				if err := os.WriteFile(filepath.Join(local, path), s.Data[key], 0o600); err != nil {
					return nil, err
				}
			}
		}
	}
	// Host names of the StatefulSet's pods become loopback addresses.
	hosts := map[string]string{}
	for i := range 64 {
		hosts[fmt.Sprintf("%s-%d.%s.%s.svc", sts.Name, i, sts.Spec.ServiceName, sts.Namespace)] = k.PodIP(i)
	}
	var order []string
	for _, e := range c.Env {
		v := e.Value
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			if e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
				return nil, fmt.Errorf("env %s: field %s not supported", e.Name, e.ValueFrom.FieldRef.FieldPath)
			}
			v = name
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			var s corev1.Secret
			if err := k.cfg.Client.Get(ctx, types.NamespacedName{Namespace: sts.Namespace, Name: ref.Name}, &s); err != nil {
				return nil, fmt.Errorf("env %s: %w", e.Name, err)
			}
			b, ok := s.Data[ref.Key]
			if !ok {
				return nil, fmt.Errorf("env %s: secret %s has no key %s", e.Name, ref.Name, ref.Key)
			}
			v = string(b)
		case e.ValueFrom != nil:
			return nil, fmt.Errorf("env %s: source not supported", e.Name)
		default:
			for _, prev := range order { // $(VAR) of an earlier variable
				v = strings.ReplaceAll(v, "$("+prev+")", p.env[prev])
			}
		}
		p.env[e.Name] = v
		order = append(order, e.Name)
	}
	for key, v := range p.env {
		for h, ip := range hosts {
			v = strings.ReplaceAll(v, h, ip)
		}
		for mp, l := range mounts {
			if v == mp || strings.HasPrefix(v, mp+"/") {
				v = l + strings.TrimPrefix(v, mp)
			}
		}
		// Listen addresses without a host bind all interfaces in a pod;
		// here they bind the pod's own address.
		if strings.HasPrefix(v, ":") && strings.HasSuffix(key, "_ADDR") {
			v = p.ip + v
		}
		p.env[key] = v
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for key, v := range p.env {
		env = append(env, key+"="+v)
	}
	slices.Sort(env)
	p.probe = probeOf(c, p.ip)
	restart := local.RestartPolicy{InitialBackoff: k.cfg.RestartBackoff, MaxBackoff: max(maxRestartBackoff, k.cfg.RestartBackoff), ResetAfter: restartBackoffReset}
	if tpl.RestartPolicy == corev1.RestartPolicyNever {
		restart = local.RestartPolicy{Disabled: true}
	}
	// Registered before it starts, so the supervisor's first events find
	// it.
	k.mu.Lock()
	k.pods[name] = p
	k.mu.Unlock()
	err := k.sup.Start(local.Spec{
		Name: name, Path: k.cfg.Binary, Args: c.Args, Env: env, Dir: dir,
		LogPath: filepath.Join(dir, "pod.log"), Restart: restart,
	})
	if err != nil {
		k.mu.Lock()
		delete(k.pods, name)
		k.mu.Unlock()
		return nil, err
	}
	k.log.Info("pod started", "pod", name, "ip", p.ip)
	return p, nil
}

// remove stops a pod the StatefulSet no longer has, deletes its Pod and
// its data (whenScaled: Delete).
func (k *Kubelet) remove(ctx context.Context, p *pod) error {
	if k.cfg.BeforeStop != nil {
		k.cfg.BeforeStop(p.name, p.env)
	}
	k.log.Info("pod stopping (replicas dropped)", "pod", p.name)
	if err := k.sup.StopProcess(ctx, p.name); err != nil && !errors.Is(err, local.ErrUnknownProcess) {
		// How it ended (killed, exit status) is worth a line; the pod
		// is gone either way.
		k.log.Warn("pod process stop", "pod", p.name, "error", err)
	}
	err := k.cfg.Client.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: k.cfg.Namespace, Name: p.name}})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	k.mu.Lock()
	delete(k.pods, p.name)
	k.mu.Unlock()
	return os.RemoveAll(filepath.Join(k.cfg.Dir, p.name))
}

// LogPath is the log file of pod name's process.
func (k *Kubelet) LogPath(name string) string { return filepath.Join(k.cfg.Dir, name, "pod.log") }
