package controller_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	agentclient "github.com/aerolithdb/aerolith/agent/client"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/pki"
	"github.com/aerolithdb/aerolith/internal/testwait"
	aerov1 "github.com/aerolithdb/aerolith/operator/api/v1"
	"github.com/aerolithdb/aerolith/operator/controller"
	"github.com/aerolithdb/aerolith/operator/podsim"
)

// podURLTLS reaches a pod over HTTPS at the address podsim reports; the
// operator verifies it with the cluster's CA.
func podURLTLS(_ *aerov1.AerolithCluster, p *corev1.Pod) string {
	return "https://" + p.Status.PodIP + ":" + strconv.Itoa(controller.HTTPPort)
}

// tlsEnv is a fixture whose billing serves HTTPS (agents with TLS insist
// on it), its CA in Secret "billing-ca", and podsim running the pods.
type tlsEnv struct {
	*fixture
	k *podsim.Kubelet
}

func startTLSEnv(t *testing.T) *tlsEnv {
	t.Helper()
	f := startFixture(t, true, func(c *controller.Config) { c.NodeURL = podURLTLS })
	ca, err := os.ReadFile(f.bill.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "billing-ca"},
		Data: map[string][]byte{"ca.crt": ca}}); err != nil {
		t.Fatal(err)
	}
	k := runPods(t, f, "db-0", "db-1", "db-2", "db-3", "db-4")
	return &tlsEnv{fixture: f, k: k}
}

// tlsCluster is a cluster of n nodes in TLS mode spec, verifying billing
// with Secret billing-ca.
func (e *tlsEnv) tlsCluster(name string, n int32, spec aerov1.TLSSpec) *aerov1.AerolithCluster {
	ac := e.cluster(name, n)
	ac.Spec.TLS = &spec
	ac.Spec.Billing.CASecret = &aerov1.SecretKeyRef{Name: "billing-ca", Key: "ca.crt"}
	return ac
}

// podURLs are the HTTPS (or, with scheme http, plain) URLs of ordinals
// 0..n-1.
func (e *tlsEnv) podURLs(scheme string, n int) string {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = scheme + "://" + e.k.PodIP(i) + ":" + strconv.Itoa(controller.HTTPPort)
	}
	return strings.Join(urls, ",")
}

// publishedCA is the CA bundle of ConfigMap <name>-ca.
func (e *tlsEnv) publishedCA(ac *aerov1.AerolithCluster) *x509.CertPool {
	e.t.Helper()
	var pool *x509.CertPool
	testwait.For(e.t, waitLimit, "the CA published in ConfigMap "+controller.CAConfigMapName(ac), func() error {
		var cm corev1.ConfigMap
		if err := e.c.Get(context.Background(), types.NamespacedName{Namespace: e.ns, Name: controller.CAConfigMapName(ac)}, &cm); err != nil {
			return err
		}
		if err := ownedBy(&cm, ac); err != nil {
			return err
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(cm.Data[controller.CACertKey])) {
			return fmt.Errorf("ca.crt = %q, want a PEM certificate", cm.Data[controller.CACertKey])
		}
		return nil
	})
	return pool
}

// checkServesTLS writes and reads a document over HTTPS verified with the
// published CA, and checks that plain HTTP and an unverified server are
// refused.
func (e *tlsEnv) checkServesTLS(ac *aerov1.AerolithCluster, n int, doc string) {
	e.t.Helper()
	ctx := context.Background()
	pool := e.publishedCA(ac)
	var admin corev1.Secret
	if err := e.c.Get(ctx, types.NamespacedName{Namespace: e.ns, Name: controller.AdminSecretName(ac)}, &admin); err != nil {
		e.t.Fatal(err)
	}
	adminKey := string(admin.Data[controller.AdminKeySecretKey])
	tlsCfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	ac0, err := agentclient.New(agentclient.Config{URL: e.podURLs("https", n), Key: adminKey, TLS: tlsCfg})
	if err != nil {
		e.t.Fatal(err)
	}
	var key *agentclient.APIKey
	testwait.For(e.t, waitLimit, "a readwrite key over HTTPS", func() error {
		key, err = ac0.CreateKey(ctx, e.tenant, "readwrite", "tls")
		return err
	})
	wc, err := agentclient.New(agentclient.Config{URL: e.podURLs("https", n), Key: key.Key, TLS: tlsCfg})
	if err != nil {
		e.t.Fatal(err)
	}
	testwait.For(e.t, waitLimit, "a write over HTTPS verified with the published CA", func() error {
		_, err := wc.Put(ctx, "tls", doc, map[string]string{"via": "https"})
		return err
	})
	if d, err := wc.Get(ctx, "tls", doc); err != nil || !strings.Contains(string(d.Data), "https") {
		e.t.Fatalf("read back %s = %+v, %v", doc, d, err)
	}
	// A client of the Service verifies the node under the Service's name.
	svc := ac.Name + "." + e.ns + ".svc"
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", e.k.PodIP(0)+":"+strconv.Itoa(controller.HTTPPort),
		&tls.Config{RootCAs: pool, ServerName: svc, MinVersion: tls.VersionTLS12})
	if err != nil {
		e.t.Fatalf("TLS to a node as %s: %v", svc, err)
	}
	conn.Close()
	// Plain HTTP to the same port is refused.
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get("http://" + e.k.PodIP(0) + ":" + strconv.Itoa(controller.HTTPPort) + "/health")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			e.t.Fatalf("plain HTTP answered %d, want a refusal", resp.StatusCode)
		}
	}
	// Without the published CA the nodes are not trusted.
	nc, err := agentclient.New(agentclient.Config{URL: e.podURLs("https", 1), Key: key.Key, MaxRetries: -1,
		TLS: &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12}})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := nc.Get(ctx, "tls", doc); err == nil {
		e.t.Fatal("a client without the cluster CA was served")
	}
}

// scaleTo changes the spec's nodes and waits until the cluster is Running
// with n nodes.
func (e *tlsEnv) scaleTo(ac *aerov1.AerolithCluster, n int32) {
	e.t.Helper()
	e.update(ac, func(a *aerov1.AerolithCluster) { a.Spec.Nodes = n })
	waitRunning(e.t, e.fixture, ac, n)
}

// TestTLSEnrollmentEndToEnd: in mode Enrollment every pod obtains its node
// certificate from billing's CA of the cluster with the enrollment token;
// the operator publishes that CA, verifies the nodes with it (status,
// raft removal on scale-down), and clients write over HTTPS with it. Then
// the enrollment Secret is deleted: the operator gets the same cluster a
// new token (no second registration) and new pods enroll with it.
func TestTLSEnrollmentEndToEnd(t *testing.T) {
	e := startTLSEnv(t)
	ctx := context.Background()
	ac := e.tlsCluster("db", 3, aerov1.TLSSpec{Mode: aerov1.TLSEnrollment})
	if err := e.c.Create(ctx, ac); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, e.fixture, ac, 3)
	if len(ac.Status.Endpoints) != 4 || ac.Status.Leader == "" {
		t.Fatalf("status endpoints %v, leader %q; want the client Service and 3 nodes, and a leader", ac.Status.Endpoints, ac.Status.Leader)
	}
	e.checkServesTLS(ac, 3, "d1")
	id := ac.Status.ClusterID

	// Scale up and down over TLS: the raft removals go through the
	// operator's verified client.
	e.scaleTo(ac, 5)
	e.scaleTo(ac, 3)
	e.checkServesTLS(ac, 3, "d2")

	// The enrollment Secret is lost.
	var enr corev1.Secret
	enrKey := types.NamespacedName{Namespace: e.ns, Name: controller.EnrollmentSecretName(ac)}
	if err := e.c.Get(ctx, enrKey, &enr); err != nil {
		t.Fatal(err)
	}
	oldToken := string(enr.Data[controller.EnrollmentTokenKey])
	if err := e.c.Delete(ctx, &enr); err != nil {
		t.Fatal(err)
	}
	var newToken string
	testwait.For(t, waitLimit, "the enrollment Secret back with a new token of the same cluster", func() error {
		var s corev1.Secret
		if err := e.c.Get(ctx, enrKey, &s); err != nil {
			return err
		}
		if err := ownedBy(&s, ac); err != nil {
			return err
		}
		newToken = string(s.Data[controller.EnrollmentTokenKey])
		if newToken == "" || newToken == oldToken || string(s.Data[controller.ClusterIDKey]) != id {
			return fmt.Errorf("token changed %v, cluster id %q (want %s)", newToken != oldToken, s.Data[controller.ClusterIDKey], id)
		}
		return nil
	})
	e.waitEvent(ac, "EnrollmentTokenReissued")
	for name, tok := range map[string]string{"new": newToken, "previous (held by the running pods)": oldToken} {
		bc, err := billingclient.New(billingclient.Config{URL: e.bill.URL(), Key: tok, HTTPClient: e.bill.HTTPClient()})
		if err != nil {
			t.Fatal(err)
		}
		if who, err := bc.WhoAmI(ctx); err != nil || who.ClusterID != id {
			t.Fatalf("whoami with the %s token = %+v, %v; want cluster %s", name, who, err, id)
		}
	}
	// A Secret that lost only its token key is mended the same way.
	if err := e.c.Get(ctx, enrKey, &enr); err != nil {
		t.Fatal(err)
	}
	delete(enr.Data, controller.EnrollmentTokenKey)
	if err := e.c.Update(ctx, &enr); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, waitLimit, "the token key back with a third token", func() error {
		var s corev1.Secret
		if err := e.c.Get(ctx, enrKey, &s); err != nil {
			return err
		}
		tok := string(s.Data[controller.EnrollmentTokenKey])
		if tok == "" || tok == newToken || tok == oldToken || string(s.Data[controller.ClusterIDKey]) != id {
			return fmt.Errorf("token set %v, cluster id %q", tok != "", s.Data[controller.ClusterIDKey])
		}
		newToken = tok
		return nil
	})
	// New pods start with the new token: they enroll (a certificate from
	// billing) and join.
	e.scaleTo(ac, 5)
	e.checkServesTLS(ac, 5, "d3")
	if ac.Status.ClusterID != id {
		t.Fatalf("cluster id %s after the recovery, want %s", ac.Status.ClusterID, id)
	}
	// Billing registered one cluster for the tenant, ever, and issued it
	// two further tokens.
	page, err := e.admin.Audit(ctx, e.tenant, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, en := range page.Entries {
		if en.Entity == "cluster" {
			count[en.Action]++
		}
	}
	if count["cluster.registered"] != 1 || count["cluster.token_issued"] != 2 {
		t.Fatalf("billing's cluster audit of the tenant = %v, want one registration and two tokens issued", count)
	}
}

// waitEvent waits for an event of reason about ac.
func (e *tlsEnv) waitEvent(ac *aerov1.AerolithCluster, reason string) corev1.Event {
	e.t.Helper()
	var ev corev1.Event
	testwait.For(e.t, waitLimit, "a "+reason+" event", func() error {
		var evs corev1.EventList
		if err := e.c.List(context.Background(), &evs, client.InNamespace(e.ns)); err != nil {
			return err
		}
		for _, x := range evs.Items {
			if x.Reason == reason && x.InvolvedObject.UID == ac.UID {
				ev = x
				return nil
			}
		}
		return fmt.Errorf("%d events, none %s", len(evs.Items), reason)
	})
	return ev
}

// tlsSecret is a kubernetes.io/tls Secret as cert-manager writes it: one
// certificate for every pod (their loopback addresses here, their DNS
// names in a cluster), its key, and the CA. The certificate carries an
// Aerolith node identity (a cert-manager Certificate's uris), which the
// raft port's mutual TLS demands.
func (e *tlsEnv) tlsSecret(name, cluster string, ac *aerov1.AerolithCluster, keys ...string) *corev1.Secret {
	e.t.Helper()
	ca, err := pki.NewCA(pki.CAConfig{ClusterID: "k8s-" + cluster})
	if err != nil {
		e.t.Fatal(err)
	}
	req := pki.NodeRequest{NodeID: cluster, DNSNames: []string{ac.Name + "." + e.ns + ".svc"}}
	for i := range 5 {
		req.IPs = append(req.IPs, e.k.PodIP(i))
		req.DNSNames = append(req.DNSNames, controller.PodHost(ac, i))
	}
	certPEM, keyPEM, err := pki.IssueNode(ca, req)
	if err != nil {
		e.t.Fatal(err)
	}
	all := map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM, "ca.crt": ca.CertPEM()}
	data := map[string][]byte{}
	for _, k := range keys {
		data[k] = all[k]
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name}, Type: corev1.SecretTypeOpaque, Data: data}
}

// TestTLSSecretEndToEnd: in mode Secret the pods serve the certificate of
// a cert-manager style Secret. A missing Secret, then one lacking a key,
// holds the cluster Degraded (TLSSecretInvalid, an event) with no pod;
// the complete Secret lets it form; clients and the operator verify the
// nodes with its ca.crt, through a scale 3 → 5 → 3.
func TestTLSSecretEndToEnd(t *testing.T) {
	e := startTLSEnv(t)
	ctx := context.Background()
	ac := e.tlsCluster("db", 3, aerov1.TLSSpec{Mode: aerov1.TLSSecret, SecretName: "db-tls"})
	if err := e.c.Create(ctx, ac); err != nil {
		t.Fatal(err)
	}
	degraded := func(what string) {
		t.Helper()
		testwait.For(t, waitLimit, "Degraded: "+what, func() error {
			if err := e.c.Get(ctx, client.ObjectKeyFromObject(ac), ac); err != nil {
				return err
			}
			c := apimeta.FindStatusCondition(ac.Status.Conditions, aerov1.ConditionDegraded)
			if c == nil || c.Status != metav1.ConditionTrue || c.Reason != "TLSSecretInvalid" || !strings.Contains(c.Message, what) {
				return fmt.Errorf("phase %s, degraded %+v", ac.Status.Phase, c)
			}
			return nil
		})
		var pods corev1.PodList
		if err := e.c.List(ctx, &pods, client.InNamespace(e.ns)); err != nil || len(pods.Items) != 0 {
			t.Fatalf("%d pods (%v) while the TLS Secret is unusable, want none", len(pods.Items), err)
		}
	}
	degraded("db-tls not found")
	if ev := e.waitEvent(ac, "TLSSecretInvalid"); !strings.Contains(ev.Message, "not found") {
		t.Errorf("event %q, want it to say the Secret is not found", ev.Message)
	}

	incomplete := e.tlsSecret("db-tls", "db", ac, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	if err := e.c.Create(ctx, incomplete); err != nil {
		t.Fatal(err)
	}
	degraded(`no key "ca.crt"`)

	full := e.tlsSecret("db-tls", "db", ac, corev1.TLSCertKey, corev1.TLSPrivateKeyKey, "ca.crt")
	incomplete.Data = full.Data
	if err := e.c.Update(ctx, incomplete); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, e.fixture, ac, 3)
	e.checkServesTLS(ac, 3, "s1")
	e.scaleTo(ac, 5)
	e.scaleTo(ac, 3)
	e.checkServesTLS(ac, 3, "s2")
}
