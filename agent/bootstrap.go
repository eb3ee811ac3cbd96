package agent

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aerolithdb/aerolith/agent/config"
	"github.com/aerolithdb/aerolith/agent/discover"
	billingclient "github.com/aerolithdb/aerolith/billing/client"
	"github.com/aerolithdb/aerolith/internal/atomicfile"
	"github.com/aerolithdb/aerolith/internal/backoff"
	"github.com/aerolithdb/aerolith/internal/nodetls"
	"github.com/aerolithdb/aerolith/internal/pki"
)

// Bootstrap of a node that knows neither its certificate nor its peers at
// launch (a cloud VM started from user data): --tls-bootstrap obtains the
// node certificate from billing through the enrollment token (the key is
// made here and never leaves the node), and --discover finds the peers
// before the store opens.

// discoveredFile keeps the raft addresses discovery found, so a restarted
// node rejoins without waiting for bootstrap-expect nodes again.
const discoveredFile = "discovered.json"

// Backoff of bootstrap calls to billing.
const (
	bootstrapMinBackoff = 200 * time.Millisecond
	bootstrapMaxBackoff = 10 * time.Second
)

// bootstrapBilling is the billing client used before the node has its
// certificate: billing is verified with --billing-ca or the system roots,
// never with a cluster CA learnt from billing itself.
type bootstrapBilling struct {
	bc  *billingclient.Client
	log *slog.Logger

	mu      sync.Mutex
	cluster string // from whoami, once known
}

// newBillingClient is the client a managed node talks to billing with: its
// enrollment token, billing verified against --billing-ca, else the
// cluster CA, else the system roots.
func newBillingClient(cfg config.Config, tl *nodetls.TLS, log *slog.Logger) (*billingclient.Client, error) {
	bcfg := billingclient.Config{URL: cfg.BillingURL, Key: cfg.EnrollmentToken, UserAgent: "aerolith-agent"}
	tr, err := nodetls.ClientTransport(cfg.BillingCA, billingTrust(cfg, tl), log)
	if err != nil {
		return nil, fmt.Errorf("billing-ca: %w", err)
	}
	if tr != nil {
		bcfg.HTTPClient = &http.Client{Transport: tr}
	}
	bc, err := billingclient.New(bcfg)
	if err != nil {
		return nil, fmt.Errorf("billing-url: %w", err)
	}
	return bc, nil
}

func newBootstrapBilling(cfg config.Config, tl *nodetls.TLS, log *slog.Logger) (*bootstrapBilling, error) {
	bc, err := newBillingClient(cfg, tl, log)
	if err != nil {
		return nil, err
	}
	return &bootstrapBilling{bc: bc, log: log}, nil
}

// billingTrust is the node TLS whose CA bundle verifies billing when
// --billing-ca is not given: none for --tls-bootstrap (the cluster CA
// comes from billing, so it cannot vouch for billing; the system roots
// do), else the node's own (--tls-ca).
func billingTrust(cfg config.Config, tl *nodetls.TLS) *nodetls.TLS {
	if cfg.TLSBootstrap {
		return nil
	}
	return tl
}

// permanent reports whether billing refused for good (the token or the
// request is wrong), so retrying cannot help.
func permanent(err error) bool {
	return billingclient.IsUnauthenticated(err) || billingclient.IsPermissionDenied(err) ||
		billingclient.IsInvalidArgument(err) || billingclient.IsNotFound(err)
}

// retry runs f until it succeeds, fails permanently or ctx ends, backing
// off between failures, which it logs.
func (b *bootstrapBilling) retry(ctx context.Context, what string, f func(ctx context.Context) error) error {
	for n := 1; ; n++ {
		err := f(ctx)
		if err == nil || permanent(err) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d := backoff.Policy{Min: bootstrapMinBackoff, Max: bootstrapMaxBackoff}.Jittered(n)
		b.log.Warn(what+" failed; retrying", "err", err, "attempt", n, "retry_in", d.Round(time.Millisecond))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// clusterID asks billing which cluster the enrollment token belongs to
// (once; retried until billing answers).
func (b *bootstrapBilling) clusterID(ctx context.Context) (string, error) {
	b.mu.Lock()
	id := b.cluster
	b.mu.Unlock()
	if id != "" {
		return id, nil
	}
	err := b.retry(ctx, "enrollment (whoami)", func(ctx context.Context) error {
		who, err := b.bc.WhoAmI(ctx)
		if err != nil {
			return err
		}
		if who.Kind != "cluster" || who.ClusterID == "" {
			return fmt.Errorf("enrollment-token: billing knows it as a %s credential, not a cluster enrollment token (use the enrollment_token of POST /api/v1/clusters)", who.Kind)
		}
		id = who.ClusterID
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("enrollment-token: %w", err)
	}
	b.mu.Lock()
	b.cluster = id
	b.mu.Unlock()
	return id, nil
}

// certEnroller keeps a --tls-bootstrap node's certificate: its key in
// <data-dir>/tls/tls.key (made at first start, 0600), the certificate and
// CA bundle billing signed next to it, renewed at half-life.
type certEnroller struct {
	billing  *bootstrapBilling
	dir      string
	nodeID   string
	dns, ips []string
	log      *slog.Logger
	now      func() time.Time

	key      crypto.Signer
	notAfter time.Time // of the certificate in the files
	renewAt  time.Time
}

// newCertEnroller prepares the enrollment of node nodeID at the hosts it
// advertises (IP addresses and DNS names for its certificate).
func newCertEnroller(cfg config.Config, b *bootstrapBilling, nodeID string, hosts []string, log *slog.Logger) *certEnroller {
	e := &certEnroller{billing: b, dir: cfg.BootstrapTLSDir(), nodeID: nodeID, log: log.With("component", "tls-bootstrap"), now: time.Now}
	for _, h := range hosts {
		if net.ParseIP(h) != nil {
			if !slices.Contains(e.ips, h) {
				e.ips = append(e.ips, h)
			}
		} else if !slices.Contains(e.dns, h) {
			e.dns = append(e.dns, h)
		}
	}
	return e
}

// ensure makes sure the files hold a certificate the node can start with:
// the one there when it is valid now, for this key and these addresses
// (renewed at once by run when past half its life), else a new one from
// billing (retried until billing answers; a refusal ends it with
// billing's reason).
func (e *certEnroller) ensure(ctx context.Context) error {
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		return fmt.Errorf("tls-bootstrap: %w", err)
	}
	if err := e.loadKey(); err != nil {
		return err
	}
	why := e.current()
	if why == "" {
		e.log.Info("using the certificate obtained earlier", "not_after", e.notAfter.UTC().Format(time.RFC3339), "renew_at", e.renewAt.UTC().Format(time.RFC3339))
		return nil
	}
	e.log.Info("obtaining a node certificate from billing", "reason", why, "ips", e.ips, "dns", e.dns)
	return e.obtain(ctx)
}

// loadKey reads the node key, or makes one at first start.
func (e *certEnroller) loadKey() error {
	path := filepath.Join(e.dir, pki.KeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, keyPEM, err := pki.NewNodeKey("")
		if err != nil {
			return fmt.Errorf("tls-bootstrap: %w", err)
		}
		if err := atomicfile.Write(path, keyPEM, 0o600); err != nil {
			return fmt.Errorf("tls-bootstrap: write key: %w", err)
		}
		e.key = key
		e.log.Info("node key created", "file", path)
		return nil
	}
	if err != nil {
		return fmt.Errorf("tls-bootstrap: %w", err)
	}
	key, err := pki.ParsePrivateKey(b)
	if err != nil {
		return fmt.Errorf("tls-bootstrap: %s: %w", path, err)
	}
	e.key = key
	return nil
}

// current returns "" when the certificate in the files can be used
// (setting notAfter and renewAt), else why not.
func (e *certEnroller) current() string {
	b, err := os.ReadFile(filepath.Join(e.dir, pki.CertFile))
	if err != nil {
		return "no certificate yet"
	}
	caPEM, err := os.ReadFile(filepath.Join(e.dir, pki.CACertFile))
	if err != nil {
		return "no CA bundle"
	}
	pool, _, err := pki.ParseCertPool(caPEM)
	if err != nil {
		return "CA bundle unreadable"
	}
	certs, err := pki.ParseCertificates(b)
	if err != nil {
		return "certificate unreadable"
	}
	c := certs[0]
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: e.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}); err != nil {
		return "certificate does not verify: " + err.Error()
	}
	if pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(e.key.Public()) {
		return "certificate of another key"
	}
	if id, ok := pki.IdentityOf(c); !ok || id.NodeID != e.nodeID {
		return "certificate of another node"
	}
	for _, ip := range e.ips {
		if c.VerifyHostname(ip) != nil {
			return "address " + ip + " not in the certificate"
		}
	}
	for _, d := range e.dns {
		if c.VerifyHostname(d) != nil {
			return "name " + d + " not in the certificate"
		}
	}
	now := e.now()
	e.notAfter = c.NotAfter
	e.renewAt = now.Add(c.NotAfter.Sub(now) / 2)
	if half := c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) / 2); !now.Before(half) {
		// Still valid: start with it (a restart during a billing outage
		// keeps serving) and renew as soon as the node runs.
		e.renewAt = now
	}
	return ""
}

// obtain sends a certificate request and writes the answer.
func (e *certEnroller) obtain(ctx context.Context) error {
	cluster, err := e.billing.clusterID(ctx)
	if err != nil {
		return fmt.Errorf("tls-bootstrap: %w", err)
	}
	csr, err := pki.NodeCSR(e.key, pki.Identity{ClusterID: cluster, NodeID: e.nodeID}, e.dns, e.ips)
	if err != nil {
		return fmt.Errorf("tls-bootstrap: %w", err)
	}
	var got billingclient.NodeCertificate
	err = e.billing.retry(ctx, "certificate request", func(ctx context.Context) error {
		var err error
		got, err = e.billing.bc.RequestCertificate(ctx, cluster, e.nodeID, csr)
		return err
	})
	if err != nil {
		return fmt.Errorf("tls-bootstrap: billing did not sign this node's certificate: %w", err)
	}
	notAfter, err := e.check(got, cluster)
	if err != nil {
		return fmt.Errorf("tls-bootstrap: billing's answer: %w", err)
	}
	// CA bundle first: a Reloader reading between the writes sees the old
	// certificate with a bundle that still verifies it (the CA does not
	// change), then the new one.
	if err := atomicfile.Write(filepath.Join(e.dir, pki.CACertFile), []byte(got.CA), 0o644); err != nil {
		return fmt.Errorf("tls-bootstrap: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(e.dir, pki.CertFile), []byte(got.Certificate), 0o644); err != nil {
		return fmt.Errorf("tls-bootstrap: %w", err)
	}
	now := e.now()
	e.notAfter = notAfter
	e.renewAt = now.Add(notAfter.Sub(now) / 2)
	e.log.Info("node certificate obtained from billing", "cluster_id", cluster, "serial", got.Serial,
		"not_after", notAfter.UTC().Format(time.RFC3339), "renew_at", e.renewAt.UTC().Format(time.RFC3339))
	return nil
}

// check verifies billing's answer before it replaces anything: the
// certificate is for this key and node, and chains to the CA bundle,
// which is the CA of the token's cluster. It returns the certificate's
// expiry.
func (e *certEnroller) check(got billingclient.NodeCertificate, cluster string) (notAfter time.Time, err error) {
	certs, err := pki.ParseCertificates([]byte(got.Certificate))
	if err != nil {
		return time.Time{}, fmt.Errorf("certificate: %w", err)
	}
	pool, cas, err := pki.ParseCertPool([]byte(got.CA))
	if err != nil {
		return time.Time{}, fmt.Errorf("ca: %w", err)
	}
	for _, ca := range cas {
		if id, ok := pki.IdentityOf(ca); !ok || id.ClusterID != cluster {
			return time.Time{}, fmt.Errorf("ca: not the CA of cluster %s", cluster)
		}
	}
	c := certs[0]
	if pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(e.key.Public()) {
		return time.Time{}, errors.New("certificate: not for this node's key")
	}
	if id, ok := pki.IdentityOf(c); !ok || id != (pki.Identity{ClusterID: cluster, NodeID: e.nodeID}) {
		return time.Time{}, errors.New("certificate: not for this node of the cluster")
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}}); err != nil {
		return time.Time{}, fmt.Errorf("certificate: %w", err)
	}
	return c.NotAfter, nil
}

// run renews the certificate at half-life until ctx ends, then has r
// (the node's TLS) load the new files at once. A failed renewal is logged
// and retried with backoff; the current certificate serves meanwhile.
func (e *certEnroller) run(ctx context.Context, r *pki.Reloader) {
	for n := 0; ; {
		wait := e.renewAt.Sub(e.now())
		if n > 0 {
			wait = backoff.Policy{Min: time.Second, Max: 30 * time.Second}.Jittered(n)
		}
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := e.obtain(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			n++
			e.log.Warn("certificate renewal failed; the current certificate serves until it expires", "err", err, "not_after", e.notAfter.UTC().Format(time.RFC3339))
			continue
		}
		n = 0
		if err := r.Reload(); err != nil {
			e.log.Error("the renewed certificate did not load; keeping the current one", "err", err)
		}
	}
}

// discoverJoin finds the cluster's raft addresses with the --discover
// provider: billing's node registry (this node registers first, so the
// others find it) or cloud tags. It waits until --bootstrap-expect nodes
// are known (a joining node, bootstrap-expect 0: one member besides
// itself), except on a restart after a discovery, which rejoins with the
// addresses found then, asking nobody.
func discoverJoin(ctx context.Context, cfg config.Config, b *bootstrapBilling, nodeID, httpAdv, raftAdv string, log *slog.Logger) ([]string, error) {
	dc, _, err := cfg.DiscoverConfig()
	if err != nil {
		return nil, err
	}
	log = log.With("component", "discover")
	path := filepath.Join(cfg.DataDir, discoveredFile)
	if saved, err := loadDiscovered(path); err != nil {
		log.Warn("ignoring the addresses discovered earlier", "file", path, "err", err)
	} else if len(saved) > 0 {
		// A node that discovered its peers before has joined or formed
		// the cluster with them (its raft state knows the members); it
		// needs neither billing nor the cloud's API to restart.
		out := slices.Compact(slices.Sorted(slices.Values(append(saved, raftAdv))))
		log.Info("rejoining with the addresses discovered earlier", "addrs", out)
		return out, nil
	}
	var p discover.Provider
	switch dc.Provider {
	case discover.ProviderBilling:
		cluster, err := b.clusterID(ctx)
		if err != nil {
			return nil, fmt.Errorf("discover: %w", err)
		}
		if err := b.retry(ctx, "node registration", func(ctx context.Context) error {
			_, err := b.bc.RegisterNode(ctx, cluster, nodeID, httpAdv, raftAdv)
			return err
		}); err != nil {
			return nil, fmt.Errorf("discover: registering this node with billing: %w", err)
		}
		p = discover.NewBilling(func(ctx context.Context) ([]string, error) {
			cl, err := b.bc.GetCluster(ctx, cluster)
			if err != nil {
				return nil, err
			}
			out := make([]string, 0, len(cl.Nodes))
			for _, n := range cl.Nodes {
				out = append(out, n.RaftAddr)
			}
			return out, nil
		})
	case discover.ProviderAWS:
		_, port, _ := net.SplitHostPort(raftAdv)
		pn, _ := strconv.Atoi(port)
		if p, err = discover.NewAWS(ctx, dc, pn); err != nil {
			return nil, err
		}
	case discover.ProviderGCP:
		_, port, _ := net.SplitHostPort(raftAdv)
		pn, _ := strconv.Atoi(port)
		if p, err = discover.NewGCP(ctx, dc, pn); err != nil {
			return nil, err
		}
	case discover.ProviderAzure:
		_, port, _ := net.SplitHostPort(raftAdv)
		pn, _ := strconv.Atoi(port)
		if p, err = discover.NewAzure(ctx, dc, pn); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("discover: provider %s has no implementation", dc.Provider)
	}
	// A new cluster's node waits for all its founders; a node joining a
	// running cluster (bootstrap-expect 0) for one member besides itself.
	expect := cfg.BootstrapExpect
	if expect == 0 {
		expect = 2
	}
	out, err := discover.Wait(ctx, p, expect, raftAdv, log)
	if err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	b2, _ := json.Marshal(out)
	if err := atomicfile.Write(path, append(b2, '\n'), 0o600); err != nil {
		log.Warn("could not keep the discovered addresses; a restart will discover again", "err", err)
	}
	return out, nil
}

// loadDiscovered reads the addresses kept by discoverJoin (nil when none).
func loadDiscovered(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}
